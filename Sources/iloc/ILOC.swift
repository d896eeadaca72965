import ArgumentParser
import Codegen
import Foundation

@main
struct ILOC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "iloc",
    abstract: "A static-graph compiler and runtime that inverts generative models by Intermediate Layer Optimization.",
    version: ILOCVersion.string,
    subcommands: [InvertCommand.self, BatchCommand.self, CompileCommand.self, RunCommand.self, KeygenCommand.self, DegradeCommand.self, RenderCommand.self, SampleCommand.self, ConvertCommand.self, GraphCommand.self, ProfileCommand.self, BenchCommand.self, BenchCompileCommand.self]
  )

  /// Refuses a bad `ILOC_TARGET` with one line before any command runs (the JIT would
  /// otherwise meet it deep inside a command).
  static func main() {
    do {
      _ = try TargetLevel.requested(ProcessInfo.processInfo.environment, hostFeatures: KernelCompiler.hostFeatures)
    } catch {
      FileHandle.standardError.write(Data("iloc: \(error)\n".utf8))
      Foundation.exit(2)
    }
    main(nil)
  }
}
