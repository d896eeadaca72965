/// PULSE's spherical projection (reference-code §A): after each optimizer step every group
/// (a z row of 512, or the H×W plane of a noise map) is rescaled to the norm it had when the
/// round started, `x ← x · r / √(Σx² + 1e-9)` with `r = √(Σx₀² + 1e-9)`. Groups are consecutive
/// runs of `groupLength` elements of the flat buffer. Sums are in Double; no allocation.
public struct SphereProjection: Sendable {
  public let groupLength: Int
  /// The stored round-start norm of each group.
  public private(set) var radii: [Float]

  /// Stores the norms of `reference`'s groups.
  public init(reference: UnsafeBufferPointer<Float>, groupLength: Int) throws {
    guard groupLength > 0, reference.count % groupLength == 0 else {
      throw InversionError("sphere projection: \(reference.count) values do not split into groups of \(groupLength)")
    }
    self.groupLength = groupLength
    radii = (0..<reference.count / groupLength).map { Float(Self.norm(reference, $0 * groupLength, groupLength)) }
  }

  public init(reference: [Float], groupLength: Int) throws {
    self = try reference.withUnsafeBufferPointer { try SphereProjection(reference: $0, groupLength: groupLength) }
  }

  static func norm(_ x: UnsafeBufferPointer<Float>, _ start: Int, _ n: Int) -> Double {
    var s = 0.0
    for i in start..<start + n { s += Double(x[i]) * Double(x[i]) }
    return (s + 1e-9).squareRoot()
  }

  /// Rescales each group of `values` (same layout as the reference) to its stored norm.
  public func project(_ values: UnsafeMutableBufferPointer<Float>) {
    precondition(values.count == radii.count * groupLength, "sphere projection: buffer size changed")
    for k in radii.indices {
      let start = k * groupLength
      let scale = Float(Double(radii[k]) / Self.norm(UnsafeBufferPointer(values), start, groupLength))
      for i in start..<start + groupLength { values[i] *= scale }
    }
  }

  public func project(_ values: inout [Float]) { values.withUnsafeMutableBufferPointer { project($0) } }
}
