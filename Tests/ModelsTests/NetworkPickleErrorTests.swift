import Foundation
import Models
import Runtime
import Testing

/// Bad and hostile network pickles of both kinds, made here with `Py`: each gives one error line
/// naming the problem, and nothing in them is ever executed.
@Suite struct NetworkPickleErrorTests {
  let dir: URL
  init() throws { dir = try Fixtures.temporaryDirectory() }

  func write(_ value: Py, _ name: String) throws -> URL {
    let url = dir.appendingPathComponent(name)
    try Data(value.pickled).write(to: url)
    return url
  }

  func expectLoadError(_ value: Py, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let url = try write(value, "bad.pkl")
    expectError(["bad.pkl: "] + fragments, sourceLocation: sourceLocation) { _ = try GeneratorCheckpoint.load(url) }
  }

  // MARK: stylegan2-ada-pytorch

  static func block(_ r: Int, architecture: String = "skip") -> Py {
    .module("SynthesisBlock", attributes: [("resolution", .int(r)), ("architecture", .str(architecture))])
  }

  static func generator(_ className: String = "Generator", cdim: Int = 0, synthesis: Py = .module("SynthesisNetwork", modules: [("b4", block(4))]),
                        mapping: Py = .module("MappingNetwork")) -> Py {
    .dict([("G", .none), ("D", .none), ("G_ema", .module(className, attributes: [("c_dim", .int(cdim)), ("img_channels", .int(3))],
                                                          modules: [("synthesis", synthesis), ("mapping", mapping)]))])
  }

  static func fc(_ shape: [Int]) -> Py {
    .module("FullyConnectedLayer", parameters: [("weight", .tensor(shape, [Float](repeating: 0.5, count: shape.reduce(1, *)))),
                                                ("bias", .tensor([shape[0]], [Float](repeating: 0, count: shape[0])))])
  }

  @Test func adaHostileAndMalformed() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let marker = dir.appendingPathComponent("pwned").path
    try expectLoadError(.dict([("G_ema", .system("touch \(marker)"))]),
                        ["'G_ema' is a call to os.system", "torch_utils.persistence._reconstruct_persistent_obj"])
    try expectLoadError(Self.generator(mapping: .module("MappingNetwork", modules: [
      ("fc0", .module("FullyConnectedLayer", parameters: [("weight", .system("touch \(marker)"))]))])),
                        ["'G_ema.mapping.fc0.weight' is a call to os.system, expected a tensor"])
    try expectLoadError(Self.generator(mapping: .module("MappingNetwork", modules: [
      ("fc0", .module("FullyConnectedLayer", parameters: [("weight", .call(.global("torch._utils", "_rebuild_tensor_v2"),
        [.system("touch \(marker)"), .int(0), .tuple([]), .tuple([])]))]))])),
                        ["tensor 'mapping.fc0.weight': not a tensor over an embedded storage"])
    #expect(!FileManager.default.fileExists(atPath: marker), "a payload ran")
    try expectLoadError(Self.generator(mapping: .module("MappingNetwork", modules: [
      ("fc0", .module("FullyConnectedLayer", parameters: [("weight", .str("not a tensor"))]))])),
                        ["'G_ema.mapping.fc0.weight' is a plain value, expected a tensor"])
    try expectLoadError(Self.generator("Discriminator"), ["G_ema is a Discriminator, expected a Generator"])
    try expectLoadError(.dict([("G_ema", .call(.global("torch_utils.persistence", "_reconstruct_persistent_obj"), [.dict([("type", .str("function"))])]))]),
                        ["malformed torch_utils.persistence metadata"])
    try expectLoadError(Self.generator(), ["missing tensor 'mapping.fc0.weight'"])
    try expectLoadError(Self.generator(mapping: .module("MappingNetwork", modules: [("fc0", Self.fc([4, 4])), ("fc1", Self.fc([4, 3]))])),
                        ["tensor 'mapping.fc1.weight' has shape [4, 3], expected [4, 4]"])
  }

  @Test func adaUnsupportedNetworks() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try expectLoadError(Self.generator(synthesis: .module("SynthesisNetwork", modules: [("input", .module("SynthesisInput")), ("L0_36_512", .module("SynthesisLayer"))])),
                        ["StyleGAN3 (stylegan3-t/-r) synthesis network", "not supported"])
    // conditional generators load (with a class: ConditionalPickleTests) when their embedding is there
    try expectLoadError(Self.generator(cdim: 10, mapping: .module("MappingNetwork", modules: [("fc0", Self.fc([4, 4]))])),
                        ["bad.pkl: missing tensor 'mapping.embed.weight'"])
    try expectLoadError(Self.generator(cdim: 10, mapping: .module("MappingNetwork", modules: [
      ("embed", Self.fc([4, 5])), ("fc0", Self.fc([4, 8]))])),
                        ["tensor 'mapping.embed.weight' has shape [4, 5], but c_dim is 10"])
    try expectLoadError(Self.generator(synthesis: .module("SynthesisNetwork", modules: [("b4", Self.block(4)), ("b8", Self.block(8, architecture: "resnet"))])),
                        ["'resnet' generator architecture", "not supported"])
  }

  // MARK: TensorFlow

  static func tf(_ gs: Py) -> Py { .tuple([gs, gs, gs]) }

  static func gs(kwargs: [(String, Py)] = [], mapping: [(String, Py)], own: [(String, Py)] = [], synthesis: [(String, Py)] = []) -> Py {
    .network("Gs", kwargs: kwargs, components: [("mapping", .network("G_mapping", variables: mapping)),
                                                ("synthesis", .network("G_synthesis", variables: synthesis))], variables: own)
  }

  static func dense(_ i: Int, _ shape: [Int]) -> [(String, Py)] {
    [("Dense\(i)/weight", .numpy(shape, [Float](repeating: 0.5, count: shape.reduce(1, *)))),
     ("Dense\(i)/bias", .numpy([shape[1]], [Float](repeating: 0, count: shape[1])))]
  }

  @Test func tensorflowHostileAndMalformed() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let marker = dir.appendingPathComponent("pwned").path
    let fine = Self.gs(mapping: Self.dense(0, [4, 4]))
    try expectLoadError(.tuple([fine, fine, .system("touch \(marker)")]), ["not a StyleGAN2 network pickle", "a call to os.system"])
    try expectLoadError(.system("touch \(marker)"), ["not a StyleGAN2 network pickle", "found a call to os.system"])
    try expectLoadError(Self.tf(Self.gs(mapping: [("Dense0/weight", .system("touch \(marker)"))])),
                        ["variable 'G_mapping/Dense0/weight' is a call to os.system, expected a NumPy array"])
    #expect(!FileManager.default.fileExists(atPath: marker), "a payload ran")
    try expectLoadError(.tuple([fine, fine, .build(.call(.global("dnnlib.tflib.network", "Netwerk"), []), .dict([]))]),
                        ["not a StyleGAN2 network pickle"])
    try expectLoadError(Self.tf(fine), ["missing tensor 'dlatent_avg'"])
    try expectLoadError(Self.tf(Self.gs(mapping: Self.dense(0, [3, 4]) + Self.dense(1, [4, 4]))),
                        ["tensor 'G_mapping/Dense0/weight' has shape [3, 4], expected [4, 4]"])
    try expectLoadError(Self.tf(Self.gs(mapping: Self.dense(0, [4, 4]), own: [("dlatent_avg", .numpy([4], [0, 0, 0, 0]))])),
                        ["missing variable 'G_synthesis/8x8/Conv1/weight'"])
    try expectLoadError(Self.tf(Self.gs(mapping: [("Dense0/weight", .numpy([2, 2], [1, 2, 3]))])),
                        ["array 'G_mapping/Dense0/weight': 12 data bytes for shape [2, 2]"])
  }

  @Test func tensorflowUnsupportedNetworks() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try expectLoadError(Self.tf(Self.gs(kwargs: [("architecture", .str("resnet"))], mapping: Self.dense(0, [4, 4]))),
                        ["'resnet' generator architecture", "not supported"])
    try expectLoadError(Self.tf(Self.gs(kwargs: [("label_size", .int(10))], mapping: Self.dense(0, [4, 4]))),
                        ["missing tensor 'G_mapping/LabelConcat/weight'"])
  }

  /// NumPy arrays as numpy 2 names them (`numpy._core`) and in Fortran order decode too.
  @Test func numpyArrayVariants() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = Data(Py.list([.numpy([2, 3], [1, 2, 3, 4, 5, 6], module: "numpy._core.multiarray"),
                             .numpy([2, 3], [1, 4, 2, 5, 3, 6], fortran: true)]).pickled)
    let items = try #require(try PickleDecoding.load(data, name: "arrays.pkl").elements)
    for (i, item) in items.enumerated() {
      let t = try #require(try PickleDecoding.numpyArray(item, key: "a\(i)"))
      #expect(t.shape == [2, 3] && t.values == [1, 2, 3, 4, 5, 6], "array \(i): \(t.values)")
    }
    #expect(try PickleDecoding.numpyArray(.int(3), key: "x") == nil)
  }

  /// A cut-off fixture: one line from the unpickler, through the CLI too.
  @Test func truncatedPickle() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try Data(contentsOf: Fixtures.url("nvidia/ada_s32.pkl"))
    let url = dir.appendingPathComponent("cut.pkl")
    try data.prefix(data.count / 2).write(to: url)
    expectError(["cut.pkl: ", "truncated pickle"]) { _ = try GeneratorCheckpoint.load(url) }
  }
}

/// A hostile pickle through `iloc sample`: refused in one line, its payload not run.
@Suite(.enabled(if: CLI.binary != nil, "skipped: the iloc executable is not built next to the tests"))
struct NetworkPickleHostileCLITests {
  @Test func hostilePickleIsRefusedInOneLine() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let marker = dir.appendingPathComponent("pwned")
    let pkl = dir.appendingPathComponent("evil.pkl")
    try Data(Py.dict([("G_ema", .system("touch \(marker.path)"))]).pickled).write(to: pkl)
    let out = dir.appendingPathComponent("x.png")
    let r = try CLI.run(["sample", "--model", pkl.path, "-o", out.path])
    let lines = r.stderr.split(separator: "\n")
    #expect(r.status != 0 && lines.count == 1 && lines[0].contains("evil.pkl") && lines[0].contains("os.system"), "stderr: \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: marker.path) && !FileManager.default.fileExists(atPath: out.path))
  }
}
