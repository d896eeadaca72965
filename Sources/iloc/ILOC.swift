import ArgumentParser
import Codegen

@main
struct ILOC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "iloc",
    abstract: "A static-graph compiler and runtime that inverts generative models by Intermediate Layer Optimization.",
    version: ILOCVersion.string,
    subcommands: [InvertCommand.self, BatchCommand.self, CompileCommand.self, RunCommand.self, KeygenCommand.self, DegradeCommand.self, RenderCommand.self, SampleCommand.self, ConvertCommand.self, GraphCommand.self, ProfileCommand.self, BenchCommand.self, BenchCompileCommand.self]
  )
}
