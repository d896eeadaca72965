import Foundation
import Inversion
import Runtime

/// Compiled stage programs kept across the inversions of one generator (`iloc batch`): a
/// round's program is built and compiled once per setup, and a later inversion with the same
/// setup only rebinds its observation. The setup is everything the program's graph and bound
/// weights depend on: the round, the engine, the settings (all but the seed), the forward
/// operator's record (mask, factor, sensing matrix seed...), the observation's shape and
/// whether LPIPS is used. Records carry every bit of an operator's data (explicit masks too),
/// so equal keys mean equal graphs.
///
/// One cache serves one generator instance (the weights are bound once); it keeps at most
/// `capacity` programs and drops the least recently used beyond that.
public final class StageProgramCache {
  public let capacity: Int
  private var programs: [String: StageProgram] = [:]
  private var order: [String] = []
  /// Programs built and programs reused, for reports and tests.
  public private(set) var builds = 0
  public private(set) var reuses = 0

  public init(capacity: Int = 16) { self.capacity = max(1, capacity) }

  /// The program of round `r` for `problem`: a cached one with the observation rebound
  /// (`reused`), or a new one (then cached).
  public func program(problem: InversionProblem, round r: Int, settings: InversionSettings, engine: Engine) throws
    -> (program: StageProgram, reused: Bool)
  {
    let key = try Self.key(problem: problem, round: r, settings: settings, engine: engine)
    if let p = programs[key] {
      try p.executable.setInput("observation", problem.observation.values)
      order.removeAll { $0 == key }
      order.append(key)
      reuses += 1
      return (p, true)
    }
    let p = try StageProgram(problem: problem, round: r, settings: settings, engine: engine)
    builds += 1
    programs[key] = p
    order.append(key)
    if order.count > capacity { programs[order.removeFirst()] = nil }
    return (p, false)
  }

  /// The setup key: round, engine, observation shape, LPIPS on or off, and a digest of the
  /// settings (seed zeroed) and the operator record.
  static func key(problem: InversionProblem, round r: Int, settings: InversionSettings, engine: Engine) throws
    -> String
  {
    let record = problem.forward.record
    var s = settings
    s.seed = 0
    let enc = JSONEncoder()
    enc.outputFormatting = .sortedKeys
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                              nan: "nan")
    let digest = FileDigest.sha256Hex(try enc.encode(s) + enc.encode(record))
    return "\(r)|\(engine.rawValue)|\(problem.observation.shape)|\(problem.perceptual != nil)|" + digest
  }
}
