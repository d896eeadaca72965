import Foundation
import Runtime

/// The original TensorFlow StyleGAN2 pickles: `Gs` to the reference layout.
///
/// Each `dnnlib.tflib.network.Network` pickles as NEWOBJ(Network) + BUILD(state), the state
/// being what its `__getstate__` returns: `version` (4 in the StyleGAN2 release, 5 in
/// stylegan2-ada's TensorFlow code), `name`, `static_kwargs`, `components` (Gs: `mapping`,
/// `synthesis`), `build_module_src` (never looked at) and `variables`, a list of
/// (name relative to the network, NumPy array). Facts used (public
/// `training/networks_stylegan2.py`, `dnnlib/tflib/ops/upfirdn_2d.py`): dense kernels are
/// [in, out] and conv kernels [kh, kw, in, out] with the He gain (and the mapping's lr
/// multiplier) applied at run time, as the reference port does; styles are
/// `dense(w) + mod_bias + 1`; the upsampling convolution runs the spatially flipped kernel;
/// the noise maps are the synthesis variables `noise{i}`; `dlatent_avg` is Gs's own variable.
enum TFNetworkPickle {
  static let networkClass = "dnnlib.tflib.network.Network"

  static let mapping = [
    "G_mapping/Dense{i}/weight [in,out] (transposed), /bias -> style.{i+1}.weight, .bias",
    "dlatent_avg -> latent_avg",
    "G_mapping/LabelConcat/weight [C,E] (conditional models; joined to z before its normalization) -> label_concat.weight",
    "G_synthesis/4x4/Const/const -> input.input",
    "G_synthesis/4x4/Conv -> conv1; {R}x{R}/Conv0_up (kernel flipped), {R}x{R}/Conv1 -> convs.{2k-2}, convs.{2k-1}",
    "  /weight [3,3,I,O] -> .conv.weight [1,O,I,3,3] (R = 4*2^k)",
    "  /mod_weight [D,I] (transposed) -> .conv.modulation.weight; /mod_bias + 1 -> .conv.modulation.bias",
    "  /noise_strength -> .noise.weight [1]; /bias -> .activate.bias; G_synthesis/noise{n} -> noises.noise_{n}",
    "G_synthesis/4x4/ToRGB -> to_rgb1; {R}x{R}/ToRGB -> to_rgbs.{k-1}",
    "  /weight [1,1,C,3] -> .conv.weight [1,3,C,1,1]; /bias -> .bias [1,3,1,1]; /mod_* as above",
  ]

  static func isNetwork(_ v: PickleValue) -> Bool {
    if case .object(let o) = v { return o.qualifiedName == networkClass }
    return false
  }

  static func read(_ gs: PickleValue, source: String) throws -> NetworkPickle {
    let state = try networkState(gs, path: "Gs", source: source)
    guard let components = state["components"] else {
      throw ModelError("\(source): Gs has no components (expected mapping and synthesis)")
    }
    var vars = try variables(state, prefix: "", path: "Gs", source: source)
    var kwargs: [String: PickleValue] = [:]
    for e in state["static_kwargs"].map(entries) ?? [] { if let k = e.key.stringValue { kwargs[k] = e.value } }
    for part in ["mapping", "synthesis"] {
      guard let c = components.lookup(part) else { throw ModelError("\(source): Gs has no '\(part)' component") }
      let s = try networkState(c, path: "Gs.components.\(part)", source: source)
      let name = s["name"]?.stringValue ?? "G_\(part)"
      vars.merge(try variables(s, prefix: name + "/", path: name, source: source)) { a, _ in a }
      for e in s["static_kwargs"].map(entries) ?? [] {
        if let k = e.key.stringValue, kwargs[k] == nil { kwargs[k] = e.value }
      }
    }
    try refuseUnsupported(kwargs, vars, source: source)
    let lr = kwargs["mapping_lrmul"]?.doubleValue ?? 0.01
    let labels = kwargs["label_size"]?.intValue ?? 0
    let (out, details) = try convert(StateDict(source: source, tensors: vars), labels: labels, source: source)
    var d = details
    d["mapping_lrmul"] = String(lr)
    for key in ["resolution", "fmap_base", "fmap_max", "architecture", "label_size", "conv_clamp"] {
      d[key] = kwargs[key]?.reportText
    }
    return NetworkPickle(format: .tensorflow, network: "Gs", details: d.compactMapValues { $0 }, mapping: mapping,
                         notes: [], stateDict: out, lrMul: Float(lr),
                         convClamp: kwargs["conv_clamp"]?.doubleValue.map(Float.init))
  }

  private static func entries(_ v: PickleValue) -> [(key: PickleValue, value: PickleValue)] {
    if case .dict(let e) = v { return e }
    if case .object(let o) = v { return o.dictEntries }
    return []
  }

  /// The BUILD state of a pickled Network, checked.
  private static func networkState(_ v: PickleValue, path: String, source: String) throws -> PickleValue {
    guard case .object(let o) = v, o.qualifiedName == networkClass else {
      throw ModelError("\(source): '\(path)' is \(NetworkPickle.describe(v)), expected a \(networkClass)")
    }
    guard let state = o.state, case .dict = state, let version = state["version"]?.intValue else {
      throw ModelError("\(source): '\(path)': malformed Network state (no version)")
    }
    guard (2...5).contains(version) else {
      throw ModelError("\(source): '\(path)': unsupported Network state version \(version) (2-5 are read)")
    }
    return state
  }

  /// The network's own variables (name -> array), keyed `prefix + name`.
  private static func variables(_ state: PickleValue, prefix: String, path: String, source: String) throws
    -> [String: TensorData]
  {
    guard let list = state["variables"]?.elements else {
      throw ModelError("\(source): '\(path)' has no variables list")
    }
    var out: [String: TensorData] = [:]
    for item in list {
      guard let pair = item.elements, pair.count == 2, let name = pair[0].stringValue else {
        throw ModelError("\(source): '\(path)': a variable is not a (name, array) pair")
      }
      let key = prefix + name
      do {
        guard let t = try PickleDecoding.numpyArray(pair[1], key: key) else {
          throw ModelError("\(source): variable '\(key)' is \(NetworkPickle.describe(pair[1])), expected a NumPy array")
        }
        out[key] = TensorData(shape: t.shape, values: t.values)
      } catch let e as WeightError { throw ModelError("\(source): \(e.message)") }
    }
    return out
  }

  private static func refuseUnsupported(_ kwargs: [String: PickleValue], _ vars: [String: TensorData],
                                        source: String) throws {
    if let arch = kwargs["architecture"]?.stringValue, arch != "skip" {
      throw ModelError("\(source): Gs uses the '\(arch)' generator architecture: not supported; "
        + "iloc implements the 'skip' generator (StyleGAN2 config-e/f)")
    }
    if let ch = kwargs["num_channels"]?.intValue, ch != 3 {
      throw ModelError("\(source): a generator of \(ch)-channel images: not supported; iloc expects RGB (3 channels)")
    }
  }

  private static func convert(_ sd: StateDict, labels: Int, source: String) throws -> (StateDict, [String: String]) {
    var m = LayoutMapper(source: sd)
    var n = 0
    while sd["G_mapping/Dense\(n)/weight"] != nil { n += 1 }
    guard n > 0 else { throw ModelError("\(source): missing variable 'G_mapping/Dense0/weight'") }
    let d = try m.shape(of: "G_mapping/Dense\(n - 1)/weight", rank: 2)[1]
    let labelWidth = try mapLabelConcat(&m, labels: labels, source: source)
    for i in 0..<n {
      let din = d + (i == 0 ? labelWidth : 0)
      try m.map("G_mapping/Dense\(i)/weight", [din, d], to: "style.\(i + 1).weight", [d, din], .transpose)
      try m.map("G_mapping/Dense\(i)/bias", [d], to: "style.\(i + 1).bias", [d])
    }
    try m.map("dlatent_avg", [d], to: "latent_avg", [d])
    var res = [4]
    while sd["G_synthesis/\(res.last! * 2)x\(res.last! * 2)/Conv1/weight"] != nil { res.append(res.last! * 2) }
    guard res.count >= 2 else { throw ModelError("\(source): missing variable 'G_synthesis/8x8/Conv1/weight'") }
    var ch = [4: try m.shape(of: "G_synthesis/4x4/Conv/weight", rank: 4)[3]]
    for r in res.dropFirst() { ch[r] = try m.shape(of: "G_synthesis/\(r)x\(r)/Conv1/weight", rank: 4)[3] }
    try m.map("G_synthesis/4x4/Const/const", [1, ch[4]!, 4, 4], to: "input.input", [1, ch[4]!, 4, 4])
    var noise = 0
    for (k, r) in res.enumerated() {
      let p = "G_synthesis/\(r)x\(r)"
      let layers = k == 0 ? [("Conv", "conv1", ch[4]!)]
        : [("Conv0_up", "convs.\(2 * k - 2)", ch[r / 2]!), ("Conv1", "convs.\(2 * k - 1)", ch[r]!)]
      for (name, target, cin) in layers {
        let q = "\(p)/\(name)", c = ch[r]!
        try m.map(q + "/weight", [3, 3, cin, c], to: target + ".conv.weight", [1, c, cin, 3, 3],
                  .hwioToOIHW(flip: name == "Conv0_up"))
        try mapModulation(&m, q, to: target, cin: cin, d: d)
        try m.map(q + "/noise_strength", [], to: target + ".noise.weight", [1])
        try m.map(q + "/bias", [c], to: target + ".activate.bias", [c])
        try m.map("G_synthesis/noise\(noise)", [1, 1, r, r], to: "noises.noise_\(noise)", [1, 1, r, r])
        noise += 1
      }
      let rgb = k == 0 ? "to_rgb1" : "to_rgbs.\(k - 1)", c = ch[r]!
      try m.map(p + "/ToRGB/weight", [1, 1, c, 3], to: rgb + ".conv.weight", [1, 3, c, 1, 1], .hwioToOIHW(flip: false))
      try mapModulation(&m, p + "/ToRGB", to: rgb, cin: c, d: d)
      try m.map(p + "/ToRGB/bias", [3], to: rgb + ".bias", [1, 3, 1, 1])
    }
    let details = ["resolution": String(res.last!), "dlatent_size": String(d), "mapping_layers": String(n),
                   "channels": res.map { "\($0):\(ch[$0]!)" }.joined(separator: " ")]
    return (m.stateDict, details)
  }

  /// Maps a conditional mapping network's `LabelConcat` weight (label_size > 0) and returns
  /// the embedding width (0 for an unconditional network).
  private static func mapLabelConcat(_ m: inout LayoutMapper, labels: Int, source: String) throws -> Int {
    let key = "G_mapping/LabelConcat/weight"
    guard labels > 0 || m.source[key] != nil else { return 0 }
    let shape = try m.shape(of: key, rank: 2)
    guard labels > 0, shape[0] == labels else {
      throw ModelError("\(source): variable '\(key)' has shape \(shape.shapeText), but label_size is \(labels)")
    }
    try m.map(key, shape, to: "label_concat.weight", shape)
    return shape[1]
  }

  private static func mapModulation(_ m: inout LayoutMapper, _ q: String, to t: String, cin: Int, d: Int) throws {
    try m.map(q + "/mod_weight", [d, cin], to: t + ".conv.modulation.weight", [cin, d], .transpose)
    try m.map(q + "/mod_bias", [cin], to: t + ".conv.modulation.bias", [cin], add: 1)
  }
}
