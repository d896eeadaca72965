import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT (Ctrl-C), SIGTERM (what batch schedulers such as Slurm and Kubernetes send) and
/// SIGHUP (a closed terminal) as requests to stop a long run cleanly: once `install()` has run,
/// none of them ends the process. The first one received is recorded in
/// `Inverter.interruptRequested`; the inverter stops after its current step and the caller
/// writes the best result so far, then exits with `exitStatus` (128 + the signal number, the
/// shell's convention: 130, 143, 129). Signals that follow, also while the results are being
/// written, are ignored, so a second Ctrl-C cannot cut the writing short.
public enum StopSignals {
  public static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

  /// Installs the handler for every signal in `handled` (idempotent) and unblocks them: a
  /// parent may start iloc with signals blocked (Foundation's `Process` does, from a worker
  /// thread), and a blocked SIGTERM would never stop the run. A signal the parent set to be
  /// ignored stays ignored (`nohup` ignores SIGHUP; a shell ignores SIGINT in background jobs).
  public static func install() {
    _ = Inverter.interruptRequested  // initialized here, never lazily inside a handler
    var unblock = sigset_t()
    sigemptyset(&unblock)
    for s in handled {
      let previous = signal(s) { Inverter.interruptRequested.record(signal: $0) }
      if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { signal(s, SIG_IGN) }
      sigaddset(&unblock, s)
    }
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
  }

  /// The first stop signal received, if any.
  public static var received: Int32? { Inverter.interruptRequested.signal }

  /// "SIGINT", "SIGTERM", "SIGHUP" (or "signal N").
  public static func name(_ s: Int32) -> String {
    switch s {
    case SIGINT: return "SIGINT"
    case SIGTERM: return "SIGTERM"
    case SIGHUP: return "SIGHUP"
    default: return "signal \(s)"
    }
  }

  /// The exit status of a run stopped by `s`.
  public static func exitStatus(_ s: Int32) -> Int32 { 128 + s }
}
