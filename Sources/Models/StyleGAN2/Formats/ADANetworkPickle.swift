import Foundation
import Runtime

/// One module of a stylegan2-ada-pytorch / stylegan3 pickle. `torch_utils.persistence` pickles
/// every network module as `_reconstruct_persistent_obj(meta)`, where `meta` is
/// `{type: 'class', version, module_src, class_name, state}` and `state` is the module's
/// `__dict__`: `_parameters`, `_buffers`, `_modules` (ordered dicts), `_init_kwargs`, and plain
/// attributes (`img_resolution`, `architecture`, ...). `module_src` is never looked at.
struct PersistentModule {
  let className: String
  let state: PickleValue
  /// Dotted path from the root, e.g. `G_ema.synthesis.b8`, for messages.
  let path: String

  static let reconstructor = "torch_utils.persistence._reconstruct_persistent_obj"

  init(_ value: PickleValue, path: String, source: String) throws {
    guard case .object(let o) = value, o.qualifiedName == Self.reconstructor, o.args.count == 1 else {
      let found = NetworkPickle.describe(value)
      throw ModelError("\(source): '\(path)' is \(found), expected a \(Self.reconstructor) module")
    }
    let meta = o.args[0]
    guard meta.lookup("type")?.stringValue == "class", let name = meta.lookup("class_name")?.stringValue,
      let state = meta.lookup("state"), case .dict = state
    else { throw ModelError("\(source): '\(path)': malformed torch_utils.persistence metadata") }
    className = name; self.state = state; self.path = path
  }

  func attribute(_ name: String) -> PickleValue? { state[name] }

  /// The submodule `name`, or nil when the module has none by that name.
  func submodule(_ name: String, source: String) throws -> PersistentModule? {
    guard let m = state["_modules"]?[name], !isNone(m) else { return nil }
    return try PersistentModule(m, path: path + "." + name, source: source)
  }

  var submoduleNames: [String] {
    guard case .dict(let e)? = state["_modules"] else { return [] }
    return e.compactMap { isNone($0.value) ? nil : $0.key.stringValue }
  }

  /// Every parameter and buffer of this module and its submodules, keyed as in the module's
  /// `state_dict()` (`mapping.fc0.weight`, ...), decoded from their embedded storages.
  func tensors(prefix: String = "", source: String, into out: inout [String: TensorData]) throws {
    for group in ["_parameters", "_buffers"] {
      guard case .dict(let entries)? = state[group] else { continue }
      for (k, v) in entries {
        guard let name = k.stringValue, !isNone(v) else { continue }  // None: an absent bias
        let key = prefix + name
        var decoded: TensorData?
        do {
          if case .object(let o) = v { decoded = try TorchCheckpoint.embeddedTensor(o, key: key) }
        } catch let e as WeightError { throw ModelError("\(source): \(e.message)") }
        guard let t = decoded else {
          throw ModelError("\(source): '\(path).\(name)' is \(NetworkPickle.describe(v)), expected a tensor")
        }
        out[key] = t
      }
    }
    for name in submoduleNames {
      try submodule(name, source: source)?.tensors(prefix: prefix + name + ".", source: source, into: &out)
    }
  }

  private func isNone(_ v: PickleValue) -> Bool { if case .none = v { return true } else { return false } }
}

/// stylegan2-ada-pytorch / stylegan3 (config `stylegan2`) pickles: `G_ema` to the reference layout.
///
/// Facts used (from the public `training/networks.py`): FullyConnectedLayer keeps its weight
/// [out, in] and applies `lr_multiplier/sqrt(in)` and `lr_multiplier` (bias) at run time, as
/// the reference port's EqualLinear does; SynthesisLayer keeps its conv weight [O, I, k, k]
/// without the He gain (demodulation divides it out; it is multiplied in here so the reference
/// port's demodulation, which adds its 1e-8 to the scaled weights, sees the same numbers); the
/// upsampling conv is a stride-2 transposed conv of the (in, out)-transposed, unflipped kernel
/// followed by the [1,3,3,1] filter, exactly the reference port's; ToRGB multiplies its styles
/// by 1/sqrt(in) as the port's scale does.
enum ADANetworkPickle {
  static let mapping = [
    "mapping.fc{i}.weight, .bias -> style.{i+1}.weight, .bias (lr multiplier applied at run time by both)",
    "mapping.w_avg -> latent_avg",
    "mapping.embed.weight [E,C], .bias (conditional models; gain 1/sqrt(C) at run time) -> embed.weight, .bias",
    "synthesis.b4.const [C,4,4] -> input.input [1,C,4,4]",
    "synthesis.b4.conv1 -> conv1; synthesis.b{R}.conv0 (up), .conv1 -> convs.{2k-2}, convs.{2k-1} (R = 4*2^k)",
    "  .weight [O,I,3,3] * sqrt(I*9) -> .conv.weight [1,O,I,3,3]",
    "  .affine.weight, .bias -> .conv.modulation.weight, .bias",
    "  .noise_strength [] -> .noise.weight [1]; .bias -> .activate.bias",
    "  .noise_const [R,R] -> noises.noise_{n} [1,1,R,R]",
    "synthesis.b4.torgb -> to_rgb1; synthesis.b{R}.torgb -> to_rgbs.{k-1}",
    "  .weight [3,C,1,1] -> .conv.weight [1,3,C,1,1]; .bias [3] -> .bias [1,3,1,1]; .affine as above",
  ]

  static func read(_ tree: PickleValue, source: String) throws -> NetworkPickle {
    let g = try PersistentModule(tree["G_ema"]!, path: "G_ema", source: source)
    guard g.className == "Generator" else {
      throw ModelError("\(source): G_ema is a \(g.className), expected a Generator")
    }
    guard let syn = try g.submodule("synthesis", source: source),
      let map = try g.submodule("mapping", source: source)
    else {
      throw ModelError("\(source): G_ema has no 'synthesis' or 'mapping' network")
    }
    try refuseUnsupported(g, syn, map, source: source)
    var ada: [String: TensorData] = [:]
    try g.tensors(source: source, into: &ada)
    let sd = StateDict(source: source, tensors: ada)
    let cdim = g.attribute("c_dim")?.intValue ?? map.attribute("c_dim")?.intValue ?? 0
    let (out, details) = try convert(sd, syn: syn, cdim: cdim, source: source)
    let clamp = blockClamp(syn, source: source)
    let lr = try map.submodule("fc0", source: source)?.attribute("bias_gain")?.doubleValue ?? 0.01
    var d = details
    d["lr_multiplier"] = String(lr)
    for key in ["z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"] { d[key] = g.attribute(key)?.reportText }
    for key in ["channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture"] {
      if let v = g.attribute("_init_kwargs")?.lookup("synthesis_kwargs")?.lookup(key) { d[key] = v.reportText }
    }
    return NetworkPickle(format: .adaPytorch, network: "G_ema", details: d.compactMapValues { $0 }, mapping: mapping,
                         notes: notes(syn, source: source), stateDict: out, lrMul: Float(lr),
                         convClamp: clamp.map(Float.init))
  }

  /// What iloc computes differently from the pickle's own code.
  private static func notes(_ syn: PersistentModule, source: String) -> [String] {
    let fp16 = syn.submoduleNames.filter { name in
      (try? syn.submodule(name, source: source))?.attribute("use_fp16")?.intValue == 1
    }
    guard !fp16.isEmpty else { return [] }
    return ["blocks \(fp16.joined(separator: ", ")) run in float16 in the original (num_fp16_res); "
            + "iloc computes every block in float32"]
  }

  /// The clamp of the first synthesis layer (`conv_clamp`, None when off).
  private static func blockClamp(_ syn: PersistentModule, source: String) -> Double? {
    let layer = try? syn.submodule("b4", source: source)?.submodule("conv1", source: source)
    return layer?.attribute("conv_clamp")?.doubleValue
  }

  /// One-line refusals for what iloc does not implement.
  private static func refuseUnsupported(_ g: PersistentModule, _ syn: PersistentModule, _ map: PersistentModule,
                                        source: String) throws {
    let names = syn.submoduleNames
    if syn.className != "SynthesisNetwork" || names.contains("input") || names.contains(where: { $0.hasPrefix("L") }) {
      throw ModelError("\(source): G_ema.synthesis is a StyleGAN3 (stylegan3-t/-r) synthesis network "
        + "(\(syn.className) with \(names.prefix(3).joined(separator: ", ")), ...): not supported; "
        + "iloc implements the StyleGAN2 generator only")
    }
    for name in syn.submoduleNames {
      guard let b = try syn.submodule(name, source: source) else { continue }
      let arch = b.attribute("architecture")?.stringValue ?? "skip"
      if arch != "skip" {
        throw ModelError("\(source): G_ema uses the '\(arch)' generator architecture (\(b.path)): not supported; "
          + "iloc implements the 'skip' generator (StyleGAN2 config-e/f, stylegan2-ada-pytorch default)")
      }
    }
    if let ch = g.attribute("img_channels")?.intValue, ch != 3 {
      throw ModelError("\(source): a generator of \(ch)-channel images: not supported; iloc expects RGB (3 channels)")
    }
  }

  /// The reference-layout state dict and the architecture read from the tensor shapes.
  private static func convert(_ sd: StateDict, syn: PersistentModule, cdim: Int, source: String) throws
    -> (StateDict, [String: String])
  {
    var m = LayoutMapper(source: sd)
    var n = 0
    while sd["mapping.fc\(n).weight"] != nil { n += 1 }
    guard n > 0 else { throw ModelError("\(source): missing tensor 'mapping.fc0.weight'") }
    let wdim = try m.shape(of: "mapping.fc\(n - 1).weight", rank: 2)[0]
    let embed = try mapEmbedding(&m, wdim: wdim, cdim: cdim, source: source)
    for i in 0..<n {
      let din = wdim + (i == 0 ? embed : 0)
      try m.map("mapping.fc\(i).weight", [wdim, din], to: "style.\(i + 1).weight", [wdim, din])
      try m.map("mapping.fc\(i).bias", [wdim], to: "style.\(i + 1).bias", [wdim])
    }
    if sd["mapping.w_avg"] != nil {  // absent when trained with w_avg_beta None (convert then fits it)
      try m.map("mapping.w_avg", [wdim], to: "latent_avg", [wdim])
    }
    var res = [4]
    while sd["synthesis.b\(res.last! * 2).conv1.weight"] != nil { res.append(res.last! * 2) }
    guard res.count >= 2 else {
      throw ModelError("\(source): missing tensor 'synthesis.b8.conv1.weight' (a generator needs at least 8x8)")
    }
    if let r = syn.attribute("img_resolution")?.intValue, r != res.last! {
      throw ModelError("\(source): img_resolution is \(r) but the synthesis network has blocks up to \(res.last!)")
    }
    var ch: [Int: Int] = [:]
    for r in res { ch[r] = try m.shape(of: "synthesis.b\(r).conv1.weight", rank: 4)[0] }
    try m.map("synthesis.b4.const", [ch[4]!, 4, 4], to: "input.input", [1, ch[4]!, 4, 4])
    var noise = 0
    for (k, r) in res.enumerated() {
      let p = "synthesis.b\(r)"
      let layers = k == 0 ? [("conv1", "conv1", ch[4]!)]
        : [("conv0", "convs.\(2 * k - 2)", ch[r / 2]!), ("conv1", "convs.\(2 * k - 1)", ch[r]!)]
      for (name, target, cin) in layers {
        try mapLayer(&m, "\(p).\(name)", to: target, cin: cin, cout: ch[r]!, wdim: wdim, res: r, noise: noise)
        noise += 1
      }
      let rgb = k == 0 ? "to_rgb1" : "to_rgbs.\(k - 1)", c = ch[r]!
      try m.map("\(p).torgb.weight", [3, c, 1, 1], to: rgb + ".conv.weight", [1, 3, c, 1, 1])
      try m.map("\(p).torgb.bias", [3], to: rgb + ".bias", [1, 3, 1, 1])
      try m.map("\(p).torgb.affine.weight", [c, wdim], to: rgb + ".conv.modulation.weight", [c, wdim])
      try m.map("\(p).torgb.affine.bias", [c], to: rgb + ".conv.modulation.bias", [c])
    }
    let details = ["resolution": String(res.last!), "w_dim": String(wdim), "mapping_layers": String(n),
                   "channels": res.map { "\($0):\(ch[$0]!)" }.joined(separator: " ")]
    return (m.stateDict, details)
  }

  /// Maps a conditional mapping network's `embed` layer (c_dim > 0) and returns its width
  /// (0 for an unconditional network).
  private static func mapEmbedding(_ m: inout LayoutMapper, wdim: Int, cdim: Int, source: String) throws -> Int {
    guard cdim > 0 || m.source["mapping.embed.weight"] != nil else { return 0 }
    let shape = try m.shape(of: "mapping.embed.weight", rank: 2)
    guard cdim > 0, shape[1] == cdim else {
      throw ModelError("\(source): tensor 'mapping.embed.weight' has shape \(shape.shapeText), but c_dim is \(cdim)")
    }
    try m.map("mapping.embed.weight", shape, to: "embed.weight", shape)
    try m.map("mapping.embed.bias", [shape[0]], to: "embed.bias", [shape[0]])
    return shape[0]
  }

  private static func mapLayer(_ m: inout LayoutMapper, _ p: String, to t: String, cin: Int, cout: Int, wdim: Int,
                               res: Int, noise: Int) throws {
    try m.map(p + ".weight", [cout, cin, 3, 3], to: t + ".conv.weight", [1, cout, cin, 3, 3],
              scale: Double(cin * 9).squareRoot())
    try m.map(p + ".affine.weight", [cin, wdim], to: t + ".conv.modulation.weight", [cin, wdim])
    try m.map(p + ".affine.bias", [cin], to: t + ".conv.modulation.bias", [cin])
    try m.map(p + ".noise_strength", [], to: t + ".noise.weight", [1])
    try m.map(p + ".bias", [cout], to: t + ".activate.bias", [cout])
    if m.source[p + ".noise_const"] != nil {
      try m.map(p + ".noise_const", [res, res], to: "noises.noise_\(noise)", [1, 1, res, res])
    }
  }
}
