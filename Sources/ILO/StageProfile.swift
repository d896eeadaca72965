import Foundation
import GraphIR
import Inversion
import Runtime

/// Profiling one round of an inversion as `iloc invert` runs it (`iloc profile --model ...
/// --task ... --round r`): the round's own stage program, at the inputs that round starts from.
public enum StageProfile {
  /// The inputs round `r` starts from in an inversion whose earlier rounds keep their start:
  /// the generator's seeded initial latents and noises (`settings.seed`), then, for each round
  /// k < r, the state round k hands on, computed by a forward pass of round k's graph (its
  /// blocks only; nothing is optimized). Weights come from the problem's generator.
  public static func startValues(problem: InversionProblem, round r: Int, settings: InversionSettings) throws
    -> [String: [Float]]
  {
    guard r >= 0, r < problem.generator.maxRounds else {
      throw InversionError("round \(r) does not exist: \(problem.generator.description) has rounds 0...\(problem.generator.maxRounds - 1)")
    }
    var values = problem.generator.initialInputs(seed: settings.seed)
    for k in 0..<r {
      let g = Graph("ilo.round\(k).forward")
      let rg = try problem.generator.buildRound(k, in: g, keepSkip: !settings.compatReference)
      for (name, v) in rg.nextState { g.output("next." + name, v) }
      try g.check()
      var feed = try rg.weights.bind(problem.generator.stateDict)
      for i in g.inputs where feed[i.name] == nil {
        guard let v = values[i.name] else { throw InversionError("round \(k) needs input '\(i.name)', which no earlier round provides") }
        feed[i.name] = HostTensor(shape: g.nodes[i.id].shape, values: v)
      }
      let out = try Program(g).run(inputs: feed)
      for (name, _) in rg.nextState { values[name] = out["next." + name]!.values }
    }
    return values
  }

  /// Binds `values` (variables and fixed inputs) and this step's noise draw, runs the program
  /// once untimed, then `runs` times with per-step timing.
  public static func profile(_ stage: StageProgram, values: [String: [Float]], noise: NoiseAddition?, runs: Int) throws
    -> ProfileReport
  {
    guard let program = stage.executable as? Program else {
      throw InversionError("profiling needs the compiled engine (jit); the interpreter has no per-step timing")
    }
    for v in stage.variables.map(\.name) + stage.fixed.map(\.name) {
      guard let x = values[v] else { throw InversionError("no start value for '\(v)'") }
      try program.setInput(v, x)
    }
    for ri in stage.runtimeInputs {
      var buf = [Float](repeating: 0, count: ri.shape.elementCount)
      noise?.fill(&buf, step: 0)
      try program.setInput(ri.name, buf)
    }
    try program.run()
    program.resetProfile()
    for _ in 0..<max(runs, 1) { try program.run() }
    return program.profileReport()
  }
}
