import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// Class-conditional NVIDIA pickles (`scripts/fixtures/make_nvidia_pickles.py conditional`): a
/// stylegan2-ada-pytorch generator with c_dim 3 and a TensorFlow one with label_size 3, against
/// goldens computed in float64 by each family's own mapping network for a given class.
@Suite struct ConditionalPickleTests {
  static let families = ["ada_cond", "tf_cond"]
  /// The class of the goldens' `w`, `image_z` (COND_CLASS in the fixture script).
  static let goldenClass = 1

  static func pickle(_ family: String) -> URL { Fixtures.url("nvidia/\(family)_s32.pkl") }
  static func golden(_ family: String) throws -> [String: HostTensor<Float>] {
    try Fixtures.golden("nvidia/\(family)_s32_golden.safetensors")
  }

  /// Image from z and the mapped w for the golden's class, through the whole generator graph.
  @Test(arguments: families)
  func generatorMatchesTheFamilyGolden(_ family: String) throws {
    let c = try StyleGAN2Checkpoint(contentsOf: Self.pickle(family), classIndex: Self.goldenClass)
    #expect(c.config.conditioning?.classes == 3 && c.config.conditioning?.width == 32)
    #expect(c.config.conditioning?.layout == (family == "ada_cond" ? .embed : .labelConcat))
    let golden = try Self.golden(family), z = golden["z"]!
    let mg = try StyleGAN2(config: c.config).generatorGraph(batch: z.shape[0])
    var feed = try mg.bind(c.stateDict)
    feed["z"] = z
    for i in 0..<c.config.noiseCount { feed["noise.\(i)"] = golden["noise.\(i)"] }
    let out = try Interpreter.run(mg.graph, inputs: feed, outputs: ["image"])
    expectClose(out["image"], golden["image_z"], "\(family) image from z", tol: 1e-5)
    expectClose(try NetworkPickleTests.image(c, golden), golden["image"], "\(family) image from w+", tol: 1e-5)
  }

  /// Every class maps z to the family's w for that class (and the classes differ).
  @Test(arguments: families)
  func everyClassMapsLikeTheFamily(_ family: String) throws {
    let golden = try Self.golden(family), z = golden["z"]!
    for k in 0..<3 {
      let c = try StyleGAN2Checkpoint(contentsOf: Self.pickle(family), classIndex: k)
      let mg = StyleGAN2(config: c.config).mappingGraph(batch: z.shape[0], rows: 1)
      var feed = try mg.bind(c.stateDict)
      feed["z"] = HostTensor(shape: [z.shape[0], 1, z.shape[1]], values: z.values)
      let w = try Interpreter.run(mg.graph, inputs: feed, outputs: ["w"])["w"]!
      let ref = golden["w.class\(k)"]!
      expectClose(HostTensor(shape: ref.shape, values: w.values), ref, "\(family) w for class \(k)", tol: 1e-5)
    }
    #expect(golden["w.class0"]!.maxRelativeDifference(to: golden["w.class1"]!) > 0.01, "the class should matter")
  }

  /// One-line refusals: no class for a conditional model, a class out of range, a class for an
  /// unconditional model.
  @Test func classIsValidated() throws {
    for family in Self.families {
      let url = Self.pickle(family)
      expectError(["\(family)_s32.pkl: a conditional generator (3 classes): give a class with --class N (0 <= N < 3)"]) {
        _ = try GeneratorCheckpoint.load(url)
      }
      expectError(["--class 3 is out of range: the generator has 3 classes"]) {
        _ = try GeneratorCheckpoint.load(url, classIndex: 3)
      }
      expectError(["--class -1 is out of range"]) { _ = try GeneratorCheckpoint.load(url, classIndex: -1) }
    }
    expectError(["ada_s32.pkl: --class 0 given, but the generator is not conditional"]) {
      _ = try GeneratorCheckpoint.load(NetworkPickleTests.pickle("ada"), classIndex: 0)
    }
  }

  /// `convert --class` keeps the embedding tensors, fits the proxy for that class and records
  /// it; the converted model loads with that class by default and refuses another.
  @Test func convertRecordsTheClass() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var o = ModelConverter.Options()
    o.fitSamples = 100
    o.engine = .interp
    o.classIndex = 2
    let out = dir.appendingPathComponent("m.safetensors")
    let report = try ModelConverter.convert(Self.pickle("tf_cond"), to: out, options: o)
    #expect(report.manifest.classIndex == 2 && report.manifest.classes == 3)
    #expect(report.summary.contains("class 2 of 3"), "\(report.summary)")
    var other = o
    other.classIndex = 0
    let proxy0 = try ModelConverter.convert(Self.pickle("tf_cond"), to: dir.appendingPathComponent("c0.safetensors"),
                                            options: other).proxy!.proxy
    #expect(proxy0.mean != report.proxy!.proxy.mean, "the proxy should be fitted for the chosen class")
    guard case .styleGAN2(let c) = try GeneratorCheckpoint.load(dir.appendingPathComponent("m.json")) else {
      Issue.record("not a StyleGAN2 model"); return
    }
    let direct = try StyleGAN2Checkpoint(contentsOf: Self.pickle("tf_cond"), classIndex: 2)
    #expect(c.classIndex == 2)
    #expect(c.stateDict[StyleGAN2Config.classEmbeddingKey]?.values
            == direct.stateDict[StyleGAN2Config.classEmbeddingKey]?.values)
    expectError(["m.json: the latent proxy was fitted for class 2, not 1"]) {
      _ = try GeneratorCheckpoint.load(dir.appendingPathComponent("m.json"), classIndex: 1)
    }
  }
}

/// `--class` through the `iloc` binary: sample, convert, invert and compile/run.
@Suite(.enabled(if: CLI.binary != nil, "skipped: the iloc executable is not built next to the tests"))
struct ConditionalPickleCLITests {
  static let pkl = ConditionalPickleTests.pickle("ada_cond").path

  /// A failed command: non-zero exit and one error line containing `phrase`.
  static func expectFailure(_ r: (status: Int32, stdout: String, stderr: String), _ phrase: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty }
    #expect(r.status != 0 && lines.count == 1 && lines[0].contains(phrase), "stderr: \(r.stderr)",
            sourceLocation: sourceLocation)
  }

  @Test func sampleNeedsAValidClass() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    func sample(_ extra: [String], _ name: String) throws -> (status: Int32, stdout: String, stderr: String) {
      try CLI.run(["sample", "--model", Self.pkl, "--seed", "3", "-o", dir.appendingPathComponent(name).path] + extra)
    }
    let one = try sample(["--class", "1"], "a.png"), two = try sample(["--class", "2"], "b.png")
    #expect(one.status == 0 && two.status == 0, "stderr: \(one.stderr) \(two.stderr)")
    #expect(one.stdout.contains("class 1 of 3"), "stdout: \(one.stdout)")
    let a = try Data(contentsOf: dir.appendingPathComponent("a.png")), b = try Data(contentsOf: dir.appendingPathComponent("b.png"))
    #expect(a != b, "the class should change the image")
    for (extra, message) in [([String](), "a conditional generator (3 classes): give a class with --class N"),
                             (["--class", "7"], "--class 7 is out of range")] {
      let r = try sample(extra, "bad.png")
      Self.expectFailure(r, message)
      #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.png").path))
    }
    let plain = try CLI.run(["sample", "--model", NetworkPickleTests.pickle("ada").path, "--class", "0",
                             "-o", dir.appendingPathComponent("c.png").path])
    Self.expectFailure(plain, "--class 0 given, but the generator is not conditional")
  }

  @Test func convertInvertAndCompileTakeTheClass() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("m.safetensors")
    let r = try CLI.run(["convert", Self.pkl, "-o", out.path, "--class", "1", "--fit-samples", "200", "--batch", "100"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(try ModelManifest(contentsOf: dir.appendingPathComponent("m.json")).classIndex == 1)
    Self.expectFailure(try CLI.run(["convert", Self.pkl, "-o", dir.appendingPathComponent("n.safetensors").path]),
                      "a conditional generator (3 classes)")

    let observed = dir.appendingPathComponent("x.png")
    try PNG.write(RGBImage(width: 32, height: 32, pixels: (0..<(32 * 32 * 3)).map { UInt8(($0 * 37) % 256) }), to: observed)
    let task = ["--task", "inpaint", "--mask", "random:0.5", "--steps", "1,1", "--fit-samples", "200"]
    let inv = try CLI.run(["invert", "--model", Self.pkl, "--class", "1", "--observed", observed.path,
                           "-o", dir.appendingPathComponent("inv").path] + task)
    #expect(inv.status == 0, "stderr: \(inv.stderr)")
    Self.expectFailure(try CLI.run(["invert", "--model", Self.pkl, "--observed", observed.path,
                                   "-o", dir.appendingPathComponent("inv2").path] + task), "a conditional generator")

    let art = dir.appendingPathComponent("art")
    let comp = try CLI.run(["compile", "--model", out.path, "-o", art.path, "--task", "inpaint", "--mask", "random:0.5",
                            "--steps", "1,1"])
    #expect(comp.status == 0, "stderr: \(comp.stderr)")
    // the artifact records the class: run reloads the conditional weights without --class
    let run = try CLI.run(["run", art.path, "--task", "inpaint", "--mask", "random:0.5", "--observed", observed.path,
                           "-o", dir.appendingPathComponent("ran").path])
    #expect(run.status == 0, "stderr: \(run.stderr)")
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("ran/result.png").path))
  }
}
