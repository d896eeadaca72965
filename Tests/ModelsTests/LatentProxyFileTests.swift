import Foundation
import Models
import Runtime
import Testing

/// `--latent-proxy gaussian_fit.pt`: ILO's and PULSE's published W-space fit, a legacy torch
/// file saved on CUDA (made here with `Py`), read without a GPU; bad files fail in one line.
@Suite struct LatentProxyFileTests {
  static let mean = (0..<32).map { Float($0) * 0.05 - 0.8 }
  static let std = (0..<32).map { 0.5 + Float($0) * 0.01 }

  @Test func readsGaussianFitAndRefusesBadFiles() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("gaussian_fit.pt")
    try Data(Py.gaussianFit(mean: Self.mean, std: Self.std)).write(to: url)
    #expect(try LatentProxy.load(url) == LatentProxy(mean: Self.mean, std: Self.std))

    func bad(_ object: Py, _ storages: [[Float]], _ fragment: String) throws {
      let u = dir.appendingPathComponent("bad_fit.pt")
      try Data(Py.legacyTorchSave(object, storages: storages)).write(to: u)
      expectError(["bad_fit.pt: ", fragment]) { _ = try LatentProxy.load(u) }
    }
    let v = Py.rebuild(Py.storage(key: "0", count: 4), [4]), w = Py.rebuild(Py.storage(key: "1", count: 3), [3])
    try bad(.dict([("mean", v)]), [[1, 2, 3, 4]], "a latent proxy needs both 'mean' and 'std'")
    try bad(.dict([("mean", v), ("std", w)]), [[1, 2, 3, 4], [1, 2, 3]], "have shapes [4] and [3]")
    try bad(.dict([("mean", v), ("std", Py.rebuild(Py.storage(key: "1", count: 4), [4]))]), [[1, 2, 3, 4], [1, -2, 3, 4]],
            "non-finite or negative")
    try bad(.dict([("avg", v)]), [[1, 2, 3, 4]], "not a latent proxy file")
  }
}

/// `iloc invert --latent-proxy`: the given proxy is used (and saved with the state) instead of
/// a fit; a proxy of the wrong width fails in one line.
@Suite(.enabled(if: CLI.binary != nil, "skipped: the iloc executable is not built next to the tests"))
struct LatentProxyCLITests {
  @Test func invertUsesTheGivenProxy() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let fit = dir.appendingPathComponent("gaussian_fit.pt"), small = dir.appendingPathComponent("small_fit.pt")
    try Data(Py.gaussianFit(mean: LatentProxyFileTests.mean, std: LatentProxyFileTests.std)).write(to: fit)
    try Data(Py.gaussianFit(mean: [0, 0], std: [1, 1])).write(to: small)
    let observed = dir.appendingPathComponent("x.png")
    try PNG.write(RGBImage(width: 32, height: 32, pixels: (0..<(32 * 32 * 3)).map { UInt8(($0 * 37) % 256) }), to: observed)
    let model = Fixtures.url("nvidia/tf_s32.pkl").path, out = dir.appendingPathComponent("out")
    let args = ["invert", "--model", model, "--task", "inpaint", "--mask", "random:0.5", "--observed", observed.path,
                "--steps", "1,1", "-o", out.path, "--latent-proxy"]
    let r = try CLI.run(args + [fit.path])
    #expect(r.status == 0 && !r.stdout.contains("fitting one"), "stdout: \(r.stdout) stderr: \(r.stderr)")
    let state = try SafeTensorsFile(contentsOf: out.appendingPathComponent("state.safetensors"))
    #expect(state.tensors[LatentProxy.meanKey]?.values == LatentProxyFileTests.mean)
    #expect(state.tensors[LatentProxy.stdKey]?.values == LatentProxyFileTests.std)
    let wrong = try CLI.run(args + [small.path])
    let lines = wrong.stderr.split(separator: "\n")
    #expect(wrong.status != 0 && lines.count == 1 && lines[0].contains("2 coordinates") && lines[0].contains("style dimension 32"),
            "stderr: \(wrong.stderr)")
  }
}
