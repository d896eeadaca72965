// The canonical form of a kernel: what decides its native code, without the names that only
// say where in a graph it came from.

extension Kernel {
  /// The kernel with the graph position taken out of its names and its buffers' lengths:
  /// buffers renamed `b0, b1, ...` with length 0, and a leading node number (`k123_` of lowered
  /// kernels) dropped from the kernel name. Two kernels with the same canonical form compute
  /// the same function of their buffers, so they share one compiled object: the same layer
  /// shape in another block, in another round's stage program or in the backward pass of a twin
  /// layer, or a kernel reading another row of the same matrix (`BufferOffsets`), is compiled
  /// once per process (and stored once in the object cache). Names never reach the machine code
  /// except as the symbol, which is derived from this form too (`KernelCompiler.symbol(for:)`);
  /// lengths never do (they bound the interpreter's and the callers' checks, which use the
  /// kernel itself, not this form).
  public var canonical: Kernel {
    var k = self
    k.name = Self.canonicalName(name)
    for i in k.buffers.indices { (k.buffers[i].name, k.buffers[i].count) = ("b\(i)", 0) }
    return k
  }

  /// `name` without a leading `k<digits>_` (the node number of a lowered kernel).
  static func canonicalName(_ name: String) -> String {
    guard name.first == "k" else { return name }
    let rest = name.dropFirst()
    let digits = rest.prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty, rest.dropFirst(digits.count).first == "_" else { return name }
    return String(rest.dropFirst(digits.count + 1))
  }
}
