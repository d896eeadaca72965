import Testing
@testable import Codegen

@Test func placeholderBuilds() {}
