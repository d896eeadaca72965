import Foundation
import Testing
@testable import Codegen

/// Object cache, ahead-of-time objects linked by the system linker, and vectorization.
@Suite struct CacheAndObjectTests {
  /// y[i] = exp(x[i]) * 0.5 + sqrt(|x[i]|): elementwise with a transcendental inside.
  static func expKernel(_ n: Int, name: String = "exp_mix") -> Kernel {
    let x: FloatExpr = .load(buffer: 0, index: i)
    return Kernel(
      name: name, buffers: [KernelBuffer("x", .input, count: n), KernelBuffer("y", .output, count: n)],
      parallel: Loop("i", n, [.store(buffer: 1, index: i, value: .fma(.exp(x), 0.5, .sqrt(.abs(x))))]))
  }

  static func truth(_ xs: [Float]) -> [Double] {
    xs.map { Foundation.exp(Double($0)) * 0.5 + Double(abs($0)).squareRoot() }
  }

  @Test func cacheRoundTripIsBitwiseIdentical() throws {
    let dir = freshDirectory("cache")
    defer { try? FileManager.default.removeItem(at: dir) }
    let n = 1000
    let kernel = Self.expKernel(n)
    let xs = randomFloats(n, seed: 11, in: -10, 10)

    let first = try makeCompiler(cache: dir).compile(kernel)
    #expect(!first.report.cacheHit)
    #expect(first.report.optimizeMilliseconds > 0 && first.report.codegenMilliseconds > 0)
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".kobj") }
    #expect(files.count == 1)

    // A new compiler (new JIT) with the same directory links the cached object.
    let second = try makeCompiler(cache: dir).compile(kernel)
    #expect(second.report.cacheHit)
    #expect(second.report.optimizeMilliseconds == 0 && second.report.codegenMilliseconds == 0)
    #expect(second.report.vectorWidth == first.report.vectorWidth)
    #expect(second.symbol == first.symbol)

    var a = [xs, [Float](repeating: 0, count: n)], b = a
    try first.run(&a)
    try second.run(&b)
    #expect(a[1].map(\.bitPattern) == b[1].map(\.bitPattern))
    #expect(close(a[1], Self.truth(xs), tol: 1e-6))

    // A different kernel is a different key (damaged entries: CacheIntegrityTests).
    let other = try makeCompiler(cache: dir).compile(Self.expKernel(n + 1))
    #expect(!other.report.cacheHit)
  }

  /// Objects written for AOT, linked with `cc -shared`, loaded with dlopen, called through
  /// the same uniform ABI.
  @Test func objectsLinkIntoASharedLibrary() throws {
    let dir = freshDirectory("aot")
    defer { try? FileManager.default.removeItem(at: dir) }
    let n = 300
    let kernels = [Self.expKernel(n, name: "aot_exp"), Self.expKernel(n, name: "aot_exp"),
                   Kernel(name: "aot_neg", buffers: [KernelBuffer("x", .input, count: n), KernelBuffer("y", .output, count: n)],
                          parallel: Loop("i", n, [.store(buffer: 1, index: i, value: -.load(buffer: 0, index: i))]))]
    let objects = try makeCompiler().writeObjects(kernels, to: dir.appendingPathComponent("obj"))
    #expect(objects.count == 2)  // the duplicate kernel is written once

    let library = dir.appendingPathComponent("libkernels.so")
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    cc.arguments = ["cc", "-shared", "-o", library.path] + objects.map(\.path.path)
    try cc.run()
    cc.waitUntilExit()
    #expect(cc.terminationStatus == 0)

    guard let handle = dlopen(library.path, RTLD_NOW | RTLD_LOCAL) else {
      Issue.record("dlopen failed: \(String(cString: dlerror()))")
      return
    }
    defer { dlclose(handle) }
    let xs = randomFloats(n, seed: 12, in: -5, 5)
    for object in objects {
      guard let sym = dlsym(handle, object.symbol) else {
        Issue.record("missing symbol \(object.symbol)")
        continue
      }
      let entry = unsafeBitCast(sym, to: KernelEntry.self)
      let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
      let y = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
      defer { x.deallocate(); y.deallocate() }
      _ = x.initialize(from: xs)
      y.initialize(repeating: .nan)
      let ptrs: [UnsafeMutablePointer<Float>?] = [x.baseAddress, y.baseAddress]
      ptrs.withUnsafeBufferPointer { entry($0.baseAddress, nil, 0, Int64(n)) }
      if object.kernelName == "aot_exp" {
        #expect(close(Array(y), Self.truth(xs), tol: 1e-6))
      } else {
        #expect(Array(y) == xs.map { -$0 })
      }
    }
  }

  /// The optimized IR of an elementwise kernel with exp inside uses float vectors (no
  /// scalarized libm calls), and the compile report agrees.
  @Test func elementwiseExpKernelIsVectorized() throws {
    let compiler = try makeCompiler()
    let kernel = Self.expKernel(4096)
    let (ir, width) = try compiler.optimizedIR(for: kernel)
    #expect(ir.contains("<16 x float>") || ir.contains("<8 x float>"))
    #expect(width >= 8)
    #expect(!ir.contains("@expf") && !ir.contains("@llvm.exp."))
    #expect(!ir.contains("call void @iloc_"))  // the inner body was inlined into the wrapper
    let compiled = try compiler.compile(kernel)
    #expect(compiled.report.vectorWidth == width)
    if compiler.preferredVectorBits == 512 { #expect(width == 16) }
  }

  /// One compiler used from several threads at once (compiles are serialized inside).
  @Test func concurrentCompilesInOneCompiler() throws {
    let compiler = try makeCompiler()
    let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 4)
    defer { results.deallocate() }
    results.initialize(repeating: false)
    DispatchQueue.concurrentPerform(iterations: 4) { t in
      let n = 64 + t
      do {
        var arrays = [randomFloats(n, seed: UInt64(t), in: -3, 3), [Float](repeating: 0, count: n)]
        try compiler.compile(Self.expKernel(n)).run(&arrays)
        results[t] = close(arrays[1], Self.truth(arrays[0]), tol: 1e-6)
      } catch {
        results[t] = false
      }
    }
    #expect(Array(results) == [true, true, true, true])
  }

  @Test func cacheDirectoryRule() {
    let home = URL(fileURLWithPath: "/home/someone", isDirectory: true)
    #expect(KernelCompiler.cacheDirectory(environment: [:], home: home).path == "/home/someone/.cache/iloc/kernels")
    #expect(KernelCompiler.cacheDirectory(environment: ["ILOC_CACHE_DIR": ""], home: home).path
      == "/home/someone/.cache/iloc/kernels")
    #expect(KernelCompiler.cacheDirectory(environment: ["ILOC_CACHE_DIR": "/tmp/k"], home: home).path == "/tmp/k")
  }

  @Test func hashAndSymbolsAreStable() {
    var h = FNV1a128()
    h.combine(Array("a".utf8))
    // FNV-1a 128 of "a" (published test vector).
    #expect(h.hex == "d228cb696f1a8caf78912b704e4a8964")
    let k = Self.expKernel(10)
    #expect(KernelCompiler.symbol(for: k) == KernelCompiler.symbol(for: Self.expKernel(10)))
    #expect(KernelCompiler.symbol(for: k) != KernelCompiler.symbol(for: Self.expKernel(11)))
    #expect(KernelCompiler.symbol(for: k).hasPrefix("iloc_exp_mix_"))
  }
}
