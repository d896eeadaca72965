import Foundation
import ReaderFuzz

#if ILOC_LIBFUZZER
import CLibFuzzer
#endif

// Fuzzing iloc's readers. Two ways to run it:
//
// In process, seeded (any build):
//   swift run -c release iloc-fuzz run all --inputs 100000 --seed 1
//   swift run -c release iloc-fuzz seeds torch-zip corpus/     (writes the seed files)
//
// With libFuzzer (coverage-guided; the reader is chosen by ILOC_FUZZ_READER):
//   swift build -c release --product iloc-fuzz -Xswiftc -sanitize=fuzzer,address \
//     -Xswiftc -DILOC_LIBFUZZER -Xswiftc -use-ld=lld --build-path .build/fuzz
// (gold fails on this link with an internal error; lld links it)
//   ILOC_FUZZ_READER=png .build/fuzz/release/iloc-fuzz corpus/ -runs=100000
// (see scripts/fuzz.sh, which does both steps for every reader).

/// The scratch directory of file-based readers, one per process.
let scratch: URL = {
  let d = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-fuzz-\(getpid())")
  try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
  return d
}()

#if ILOC_LIBFUZZER
let libFuzzerReader: FuzzReader = {
  let name = ProcessInfo.processInfo.environment["ILOC_FUZZ_READER"] ?? ""
  guard let reader = FuzzReader(rawValue: name) else {
    let names = FuzzReader.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("set ILOC_FUZZ_READER to one of: \(names)\n".utf8))
    exit(2)
  }
  return reader
}()

/// One libFuzzer input, read by the chosen reader; errors are fine.
func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  try? libFuzzerReader.read(data, scratch: scratch.appendingPathComponent("current"))
  return 0
}

/// SwiftPM gives the executable its own `main`, so libFuzzer's is not used: its driver is
/// called instead, with the command line (libFuzzer's flags and corpus directories).
@main struct FuzzMain {
  static func main() {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOneInput($0, $1) })
  }
}
#else
@main struct FuzzMain {
  static func main() throws {
    let args = Array(CommandLine.arguments.dropFirst())
    func value(_ flag: String, _ fallback: Int) -> Int {
      args.firstIndex(of: flag).flatMap { args.indices.contains($0 + 1) ? Int(args[$0 + 1]) : nil } ?? fallback
    }
    let names = FuzzReader.allCases.map(\.rawValue).joined(separator: ", ")
    let usage = """
      usage: iloc-fuzz run (all|READER) [--inputs N] [--seed S] | seeds (all|READER) DIR
             iloc-fuzz replay READER INDEX OUT [--seed S]   (writes input INDEX of that run to OUT)
      readers: \(names)
      """
    guard args.count >= 2,
      let readers = args[1] == "all" ? FuzzReader.allCases : FuzzReader(rawValue: args[1]).map({ [$0] })
    else {
      print(usage)
      exit(2)
    }
    defer { try? FileManager.default.removeItem(at: scratch) }
    switch args[0] {
    case "run":
      for reader in readers {
        let report = try FuzzDriver.run(reader, inputs: value("--inputs", 10_000), seed: UInt64(value("--seed", 1)),
                                        scratch: scratch)
        print(report.summary)
      }
    case "replay" where args.count >= 4:  // replay READER INDEX OUT: writes that input, times reading it
      guard let index = Int(args[2]) else { print(usage); exit(2) }
      let input = try FuzzDriver.input(index, of: readers[0], seed: UInt64(value("--seed", 1)), scratch: scratch)
      try input.write(to: URL(fileURLWithPath: args[3]))
      let start = DispatchTime.now().uptimeNanoseconds
      let outcome: String
      do { try readers[0].read(input, scratch: scratch.appendingPathComponent("replay")); outcome = "read" } catch {
        outcome = "refused: \(error)"
      }
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      print(String(format: "input %d (%d bytes) %@ in %.4f s", index, input.count, outcome, seconds))
    case "seeds" where args.count >= 3:
      let dir = URL(fileURLWithPath: args[2], isDirectory: true)
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      for reader in readers {
        for (i, seed) in try FuzzSeeds.make(reader).enumerated() {
          try seed.write(to: dir.appendingPathComponent("\(reader.rawValue)-\(i)"))
        }
      }
    default:
      print(usage)
      exit(2)
    }
  }
}
#endif
