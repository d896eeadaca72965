import Foundation

/// The fixture made by scripts/fixtures/make_inversion_goldens.py (PyTorch, NumPy FFT,
/// scikit-image): independent implementations the Inversion code is compared with.
struct Goldens: Decodable {
  struct Bicubic: Decodable { var factor: Int; var x: [Double]?; var shape: [Int]; var y: [Double]; var yShape: [Int] }
  struct Circulant: Decodable { var imageSize: Int; var x: [Double]; var filter: [Double]; var signs: [Double]; var indices: [Int]; var y: [Double] }
  struct SSIMCase: Decodable { var height: Int; var width: Int; var a: [Double]; var b: [Double]; var ssim: Double }
  struct AdamCase: Decodable { var initial: [Float]; var grads: [[Float]]; var lrs: [Float]; var params: [[Double]] }
  var bicubic: [Bicubic]
  var circulant: Circulant
  var ssim: [SSIMCase]
  var adam: AdamCase

  static let shared: Goldens = {
    let url = Bundle.module.url(forResource: "inversion_goldens", withExtension: "json", subdirectory: "Fixtures")!
    return try! JSONDecoder().decode(Goldens.self, from: Data(contentsOf: url))
  }()
}
