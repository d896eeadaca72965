import Testing
@testable import GraphIR

@Test func placeholderBuilds() {}
