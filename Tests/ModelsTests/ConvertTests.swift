import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// `ModelConverter` (`iloc convert`): checkpoint -> safetensors + JSON, the latent proxy fit,
/// and loading converted models. Truths: the checkpoint read by the Runtime loader, the
/// fixture's sha256 (from `sha256sum`), a plain-Swift Double mapping network, the original
/// checkpoint's samples.
@Suite struct ConvertTests {
  static let s32 = Fixtures.url("stylegan2/stylegan2_s32.pt")
  /// `sha256sum Tests/ModelsTests/Fixtures/stylegan2/stylegan2_s32.pt`
  static let s32SHA = "8bce188b88bc9ae700177897e41cc388a5db6da5fa12dac7cc98842fdbbb66c2"

  static func options(samples: Int, seed: UInt64 = 7, batch: Int = 2000) -> ModelConverter.Options {
    var o = ModelConverter.Options()
    o.fitSamples = samples; o.seed = seed; o.batch = batch
    return o
  }

  static func bits(_ v: [Float]) -> [UInt32] { v.map(\.bitPattern) }

  static func json(_ url: URL) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
  }

  /// The mapping network in Double, from the raw checkpoint tensors (reference-code.md §C):
  /// PixelNorm, then per layer `lrelu_0.2(W x · lr/√D + b · lr) · √2`. Returns w for each row.
  static func referenceMapping(_ sd: StateDict, layers: Int, d: Int, z: [Float]) -> [[Double]] {
    let lr = 0.01, scale = lr / Double(d).squareRoot()
    let weights = (1...layers).map { i in (sd["style.\(i).weight"]!.values.map(Double.init), sd["style.\(i).bias"]!.values.map(Double.init)) }
    return stride(from: 0, to: z.count, by: d).map { start in
      var x = z[start..<(start + d)].map(Double.init)
      let norm = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(d) + 1e-8).squareRoot()
      x = x.map { $0 * norm }
      for (w, b) in weights {
        x = (0..<d).map { o in
          var acc = 0.0
          for i in 0..<d { acc += w[o * d + i] * x[i] }
          let y = acc * scale + b[o] * lr
          return (y < 0 ? 0.2 * y : y) * 2.0.squareRoot()
        }
      }
      return x
    }
  }

  /// Every generator tensor is copied bit for bit under its checkpoint key; the proxy and the
  /// JSON description are added; nothing else.
  @Test func styleGAN2WeightsAndDescription() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("s32.safetensors")
    let report = try timed("convert s32 (1000 fit samples)") {
      try ModelConverter.convert(Self.s32, to: out, options: Self.options(samples: 1000))
    }
    let truth = try loadStateDict(Self.s32, prefix: "g_ema")
    let avg = try TorchCheckpoint(contentsOf: Self.s32).tensor("latent_avg")
    let file = try SafeTensorsFile(contentsOf: out)
    #expect(Set(file.tensors.keys) == Set(truth.keys + ["latent_avg", "latent_proxy.mean", "latent_proxy.std"]))
    for key in truth.keys {
      #expect(file.tensors[key]?.shape == truth[key]!.shape, "\(key) shape")
      #expect(Self.bits(file.tensors[key]?.values ?? []) == Self.bits(truth[key]!.values), "\(key) values")
    }
    #expect(Self.bits(file.tensors["latent_avg"]!.values) == Self.bits(avg.values))
    #expect(file.tensors["latent_proxy.mean"]?.shape == [32] && file.tensors["latent_proxy.std"]?.shape == [32])
    #expect(file.metadata["architecture"] == "stylegan2" && file.metadata["format"] == "iloc-model")

    let j = try Self.json(dir.appendingPathComponent("s32.json"))
    #expect(j["format"] as? String == "iloc-model" && j["format_version"] as? Int == 1)
    #expect(j["architecture"] as? String == "stylegan2" && j["weights"] as? String == "s32.safetensors")
    #expect(j["size"] as? Int == 32 && j["style_dim"] as? Int == 32 && j["n_mlp"] as? Int == 3)
    #expect(j["n_latent"] as? Int == 8 && j["n_noise"] as? Int == 7 && j["latent_avg"] as? String == "checkpoint")
    #expect(j["channels"] as? [String: Int] == ["4": 32, "8": 32, "16": 24, "32": 16])
    #expect(j["channel_multiplier"] == nil)  // the fixture's widths are not a standard set
    #expect(j["tensor_count"] as? Int == file.tensors.count)
    let source = try #require(j["source"] as? [String: Any])
    #expect(source["file"] as? String == "stylegan2_s32.pt" && source["sha256"] as? String == Self.s32SHA)
    let proxy = try #require(j["latent_proxy"] as? [String: Any])
    #expect(proxy["samples"] as? Int == 1000 && proxy["seed"] as? Int == 7 && proxy["mean"] as? String == "latent_proxy.mean")
    #expect(report.manifest.tensorCount == file.tensors.count && report.skipped.isEmpty)
  }

  /// The fitted moments equal a plain-Swift Double computation on the same latents
  /// (3 batches of 128 for 300 samples: the padded last batch must not count). The checkpoint
  /// without `latent_avg` gets the fitted mean latent.
  @Test(arguments: Engine.allCases) func proxyMatchesIndependentComputation(_ engine: Engine) throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var sd = try loadStateDict(Self.s32, prefix: "g_ema")
    let source = dir.appendingPathComponent("no_avg.safetensors")
    try SafeTensorsFile(tensors: sd.tensors).write(to: source)
    sd.source = "s32"
    let (n, d, seed): (Int, Int, UInt64) = (300, 32, 11)
    let out = dir.appendingPathComponent("fit.safetensors")
    var opts = Self.options(samples: n, seed: seed, batch: 128)
    opts.engine = engine
    try timed("convert s32 without latent_avg (300 samples, batch 128, \(engine))") {
      _ = try ModelConverter.convert(source, to: out, options: opts)
    }
    var rng = SplitMix64(seed: seed)
    let z = rng.normals(n * d).map { Float($0) }
    let w = Self.referenceMapping(sd, layers: 3, d: d, z: z)
    let v = w.map { $0.map { $0 < 0 ? 5 * $0 : $0 } }
    func columnMean(_ rows: [[Double]], _ j: Int) -> Double { rows.reduce(0.0) { $0 + $1[j] } / Double(n) }
    let mean: [Double] = (0..<d).map { columnMean(v, $0) }
    let std: [Double] = (0..<d).map { j in
      var s = 0.0
      for row in v { s += (row[j] - mean[j]) * (row[j] - mean[j]) }
      return (s / Double(n - 1)).squareRoot()
    }
    let avg: [Double] = (0..<d).map { columnMean(w, $0) }

    let file = try SafeTensorsFile(contentsOf: out)
    func close(_ name: String, _ got: [Float]?, _ want: [Double]) {
      let scale = want.map(Swift.abs).max()!
      let err = zip(got ?? [], want).map { Swift.abs(Double($0) - $1) }.max() ?? .infinity
      #expect((got?.count ?? 0) == want.count && err / scale < 2e-6, "\(name): max relative error \(err / scale)")
    }
    close("mean", file.tensors["latent_proxy.mean"]?.values, mean)
    close("std", file.tensors["latent_proxy.std"]?.values, std)
    close("latent_avg", file.tensors["latent_avg"]?.values, avg)
    #expect(try Self.json(dir.appendingPathComponent("fit.json"))["latent_avg"] as? String == "fitted")

    // The proxy reproduces each coordinate's mean and spread: lrelu_0.2(std·z + mean) for
    // z ~ N(0,1) has the moments of w, since lrelu_5 inverts lrelu_0.2 exactly.
    let proxy = try #require(try GeneratorCheckpoint.load(out).latentProxy)
    #expect(Self.bits(proxy.mean) == Self.bits(file.tensors["latent_proxy.mean"]!.values))
    let mapped = proxy.map([0, 1, -1].flatMap { s in [Float](repeating: Float(s), count: d) })
    for j in 0..<d {
      let m = proxy.mean[j], s = proxy.std[j]
      let lrelu: (Float) -> Float = { $0 < 0 ? 0.2 * $0 : $0 }
      #expect(mapped[j] == lrelu(m) && mapped[d + j] == lrelu(m + s) && mapped[2 * d + j] == lrelu(m - s))
    }
  }

  /// Same seed and options -> the same bytes (both files); another seed changes the proxy.
  @Test func deterministic() throws {
    let dirs = try (0..<3).map { _ in try Fixtures.temporaryDirectory() }
    defer { for d in dirs { try? FileManager.default.removeItem(at: d) } }
    let outs = dirs.map { $0.appendingPathComponent("m.safetensors") }
    for (k, out) in outs.enumerated() {
      _ = try ModelConverter.convert(Self.s32, to: out, options: Self.options(samples: 500, seed: k == 2 ? 8 : 7, batch: 200))
    }
    let json = dirs.map { $0.appendingPathComponent("m.json") }
    #expect(try Data(contentsOf: outs[0]) == Data(contentsOf: outs[1]))
    #expect(try Data(contentsOf: json[0]) == Data(contentsOf: json[1]))
    let a = try SafeTensorsFile(contentsOf: outs[0]), c = try SafeTensorsFile(contentsOf: outs[2])
    #expect(a.tensors["latent_proxy.mean"] != c.tensors["latent_proxy.mean"])
    #expect(a.tensors["style.1.weight"] == c.tensors["style.1.weight"])
  }

  /// The converted model, given by its .safetensors or its .json, draws exactly the images of
  /// the original checkpoint (same seed, truncation from `latent_avg`).
  @Test func convertedModelSamplesLikeTheCheckpoint() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("s32.safetensors")
    try ModelConverter.convert(Self.s32, to: out, options: Self.options(samples: 200))
    func image(_ url: URL) throws -> HostTensor<Float> {
      let job = try GeneratorCheckpoint.load(url).samplingJob(seed: 3, count: 2, truncation: 0.7)
      return try Program(job.graph).run(inputs: job.inputs, outputs: ["image"])["image"]!
    }
    let original = try timed("sample s32 x3 (compiled)") { try image(Self.s32) }
    #expect(try image(out) == original)
    #expect(try image(dir.appendingPathComponent("s32.json")) == original)
    let viaJSON = try GeneratorCheckpoint.load(dir.appendingPathComponent("s32.json"))
    #expect(viaJSON.manifest?.source.sha256 == Self.s32SHA && viaJSON.latentProxy != nil)
    #expect(try GeneratorCheckpoint.load(Self.s32).latentProxy == nil)
  }


  @Test func badInputsGiveOneLine() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("o.safetensors")
    let opts = Self.options(samples: 50)
    let garbage = dir.appendingPathComponent("garbage.pt")
    try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }).write(to: garbage)
    expectError(["garbage.pt"]) { try ModelConverter.convert(garbage, to: out, options: opts) }
    let truncated = dir.appendingPathComponent("truncated.pt")
    try Data(contentsOf: Self.s32).prefix(100_000).write(to: truncated)
    expectError(["truncated.pt"]) { try ModelConverter.convert(truncated, to: out, options: opts) }
    expectError(["lpips_golden.safetensors: not a generator iloc knows"]) {
      try ModelConverter.convert(Fixtures.url("lpips/lpips_golden.safetensors"), to: out, options: opts)
    }
    var t = try loadStateDict(Self.s32, prefix: "g_ema").tensors
    t["convs.2.conv.weight"] = TensorData(shape: [1, 24, 32, 3, 1], values: [Float](repeating: 0, count: 24 * 32 * 3))
    let bad = dir.appendingPathComponent("misshaped.safetensors")
    try SafeTensorsFile(tensors: t).write(to: bad)
    expectError(["misshaped.safetensors", "'convs.2.conv.weight'", "[1, 24, 32, 3, 1]", "[1, 24, 32, 3, 3]"]) {
      try ModelConverter.convert(bad, to: out, options: opts)
    }
    t["convs.2.conv.weight"] = nil
    let missing = dir.appendingPathComponent("missing.safetensors")
    try SafeTensorsFile(tensors: t).write(to: missing)
    expectError(["missing.safetensors", "missing", "'convs.2.conv.weight'", "[1, 24, 32, 3, 3]"]) {
      try ModelConverter.convert(missing, to: out, options: opts)
    }
    expectError(["must end in .safetensors"]) { try ModelConverter.convert(Self.s32, to: dir.appendingPathComponent("o.pt"), options: opts) }
    expectError(["does not exist"]) { try ModelConverter.convert(Self.s32, to: dir.appendingPathComponent("no/o.safetensors"), options: opts) }
    #expect(!FileManager.default.fileExists(atPath: out.path))

    // A converted model whose JSON disagrees with its weights, or is from a newer iloc.
    try ModelConverter.convert(Self.s32, to: out, options: opts)
    let jsonURL = dir.appendingPathComponent("o.json")
    let good = try String(contentsOf: jsonURL, encoding: .utf8)
    try good.replacingOccurrences(of: "\"n_mlp\" : 3", with: "\"n_mlp\" : 8").write(to: jsonURL, atomically: true, encoding: .utf8)
    expectError(["o.json declares n_mlp 8 but o.safetensors holds 3"]) { _ = try GeneratorCheckpoint.load(out) }
    try good.replacingOccurrences(of: "\"format_version\" : 1", with: "\"format_version\" : 9").write(to: jsonURL, atomically: true, encoding: .utf8)
    expectError(["o.json: format version 9 is newer"]) { _ = try GeneratorCheckpoint.load(jsonURL) }
    try good.replacingOccurrences(of: "\"stylegan2\"", with: "\"dcgan\"").write(to: jsonURL, atomically: true, encoding: .utf8)
    expectError(["o.json declares architecture 'dcgan'", "missing key 'main.0.weight'"]) { _ = try GeneratorCheckpoint.load(out) }
    try "{ \"format\": \"iloc-model\", \"weights\": \"o.safetensors\" }".write(to: jsonURL, atomically: true, encoding: .utf8)
    expectError(["o.json: missing field"]) { _ = try GeneratorCheckpoint.load(jsonURL) }
    expectError(["stylegan2_s32.json: not an iloc model description"]) {
      _ = try GeneratorCheckpoint.load(Fixtures.url("stylegan2/stylegan2_s32.json"))
    }
  }

  /// Known-answer vectors (FIPS 180-4 examples and Python's hashlib for the padding edges and
  /// for a file read in several chunks, whole and up to a limit).
  @Test func sha256KnownAnswers() throws {
    #expect(FileDigest.sha256Hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(FileDigest.sha256Hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(FileDigest.sha256Hex(Data(repeating: 0x61, count: 55)) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
    #expect(FileDigest.sha256Hex(Data(repeating: 0x61, count: 56)) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
    #expect(FileDigest.sha256Hex(Data(repeating: 0x61, count: 64)) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("bytes.bin")  // 2.5 MiB + 77: three chunks, the last partial
    try Data((0..<(2_621_440 + 77)).map { UInt8($0 % 251) }).write(to: file)
    #expect(try FileDigest.sha256Hex(fileAt: file) == "3a652c00cc22958c9da64fd2e357895a88dc309bbe874653143db86a91cc2bca")
    #expect(try FileDigest.sha256Hex(fileAt: file, limit: 1_048_577) == "5769f52bc3eef28afa39c6fc68cadb7d0bd69812ae3a3d71452f519ec3c7aa56")
  }

  /// `dcgan` resolves to the converted model when present, else to the cached checkpoint.
  @Test func shippedNameResolution() throws {
    let root = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: root) }
    let cached = root.appendingPathComponent("models/cache/gan_face_generate/weights.tar")
    try FileManager.default.createDirectory(at: cached.deletingLastPathComponent(), withIntermediateDirectories: true)
    #expect(throws: ModelError.self) { try GeneratorCheckpoint.resolve("dcgan", searchRoots: [root]) }
    try Data([1]).write(to: cached)
    #expect(try GeneratorCheckpoint.resolve("dcgan", searchRoots: [root]).path == cached.path)
    let converted = root.appendingPathComponent("models/dcgan-face64.safetensors")
    try Data([1]).write(to: converted)
    #expect(try GeneratorCheckpoint.resolve("DCGAN", searchRoots: [root]).path == converted.path)
  }
}

/// Converting the real shipped DCGAN (skipped without `bash models/fetch.sh`).
@Suite(.enabled(if: Fixtures.cached("gan_face_generate/weights.tar") != nil,
                "skipped: models/cache/gan_face_generate/weights.tar is absent (run `bash models/fetch.sh`)"))
struct ConvertDCGANTests {
  @Test func convertsTheShippedDCGAN() throws {
    let source = Fixtures.cached("gan_face_generate/weights.tar")!
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("dcgan-face64.safetensors")
    let report = try timed("convert DCGAN") { try ModelConverter.convert(source, to: out) }
    let truth = try loadStateDict(source, prefix: "netG_state_dict")
    let file = try SafeTensorsFile(contentsOf: out)
    let floats = truth.keys.filter { !$0.hasSuffix("num_batches_tracked") }
    #expect(file.tensors.count == 21 && Set(file.tensors.keys) == Set(floats))
    for key in floats {
      #expect(file.tensors[key]?.shape == truth[key]!.shape && file.tensors[key]!.values.map(\.bitPattern) == truth[key]!.values.map(\.bitPattern), "\(key)")
    }
    #expect(report.skipped == ["main.1.num_batches_tracked", "main.10.num_batches_tracked", "main.4.num_batches_tracked", "main.7.num_batches_tracked"])
    let j = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("dcgan-face64.json"))) as? [String: Any])
    #expect(j["architecture"] as? String == "dcgan" && j["nz"] as? Int == 100 && j["ngf"] as? Int == 64 && j["nc"] as? Int == 3 && j["size"] as? Int == 64)
    #expect(j["latent_proxy"] == nil)
    // models/README.md records this sha256 for the fetched file.
    #expect((j["source"] as? [String: Any])?["sha256"] as? String == "0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f")

    func image(_ url: URL) throws -> HostTensor<Float> {
      let job = try GeneratorCheckpoint.load(url).samplingJob(seed: 1, count: 1)
      return try Program(job.graph).run(inputs: job.inputs, outputs: ["image"])["image"]!
    }
    #expect(try image(out) == image(source))
  }
}
