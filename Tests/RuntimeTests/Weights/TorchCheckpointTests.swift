import Foundation
import Testing

@testable import Runtime

/// Reading real `torch.save` output (made by the fixture script) and comparing with what
/// torch itself loads.
@Suite struct TorchCheckpointTests {
  @Test(arguments: ["nested_zip.pt", "legacy.pt", "proto4_zip.pt", "cuda_zip.pt", "cuda_legacy.pt"])
  func everyTensorMatchesTorch(file: String) throws {
    let state = try loadStateDict(WeightFixtures.url(file))
    #expect(state.source == file)
    WeightFixtures.check(state.tensors, against: WeightFixtures.expected(file))
  }

  @Test(arguments: ["nested_zip.pt", "legacy.pt"])
  func prefixPicksTheSubDict(file: String) throws {
    let url = WeightFixtures.url(file)
    let g = try loadStateDict(url, prefix: "g_ema")
    var expected: [String: WeightFixtures.Expected] = [:]
    for (key, value) in WeightFixtures.expected(file) where key.hasPrefix("g_ema.") {
      expected[String(key.dropFirst(6))] = value
    }
    WeightFixtures.check(g.tensors, against: expected)
    #expect(g["style.1.weight"]?.shape == [4, 3])

    // The same sub-dict from the full load.
    let all = try loadStateDict(url)
    #expect(all.subDict(prefix: "g_ema").tensors == g.tensors)

    // Integer dict keys (optimizer state) join like strings.
    #expect(try loadStateDict(url, prefix: "g_optim.state.0")["step"]?.shape == [])
  }

  @Test func unknownPrefixNamesTheTopLevelKeys() throws {
    let error = #expect(throws: WeightError.self) {
      try loadStateDict(WeightFixtures.url("nested_zip.pt"), prefix: "g")
    }
    let message = error?.description ?? ""
    #expect(message.contains("nested_zip.pt") && message.contains("no tensors under 'g'"))
    #expect(message.contains("g_ema") && message.contains("latent_avg"))
  }

  @Test(arguments: ["nested_zip.pt", "legacy.pt"])
  func nonTensorValuesAreKept(file: String) throws {
    let checkpoint = try TorchCheckpoint(contentsOf: WeightFixtures.url(file))
    let facts = WeightFixtures.facts
    let tree = checkpoint.tree
    #expect(tree["iteration"]?.intValue == (facts["iteration"] as! NSNumber).intValue)
    #expect(tree["name"]?.stringValue == facts["name"] as? String)
    guard case .float(let lr)? = tree["lr"] else {
      Issue.record("lr is not a float")
      return
    }
    #expect(lr == (facts["lr"] as! NSNumber).doubleValue)
    // An unknown class is kept as an opaque object with its state.
    guard case .object(let args)? = tree["args"] else {
      Issue.record("args is not an object")
      return
    }
    #expect(args.qualifiedName == "argparse.Namespace")
    #expect(args.state?["size"]?.intValue == 64)
    #expect(args.state?["channel_multiplier"]?.intValue == 2)
    // [1, 2.5, None, True, (1, "two")]
    let misc = tree["misc"]?.elements ?? []
    #expect(misc.count == 5)
    if misc.count == 5 {
      #expect(misc[0].intValue == 1)
      if case .none = misc[2] {} else { Issue.record("misc[2] is not None") }
      #expect(misc[4].elements?.last?.stringValue == "two")
    }
  }

  @Test func tensorByKeyAndKeyOrder() throws {
    let checkpoint = try TorchCheckpoint(contentsOf: WeightFixtures.url("nested_zip.pt"))
    // File order: the g_ema OrderedDict first, in its own order.
    #expect(Array(checkpoint.tensorKeys.prefix(3)) == ["g_ema.style.1.weight", "g_ema.style.1.bias", "g_ema.conv1.conv.weight"])
    let truth = WeightFixtures.expected("nested_zip.pt")["g_ema.transposed"]!
    let transposed = try checkpoint.tensor("g_ema.transposed")
    #expect(transposed.shape == [5, 3])
    #expect(transposed.values == truth.values.map { Float($0) })
    #expect(throws: WeightError.self) { try checkpoint.tensor("g_ema.nope") }
  }

  @Test func requireChecksPresenceAndShape() throws {
    let state = try loadStateDict(WeightFixtures.url("nested_zip.pt"), prefix: "g_ema")
    #expect(try state.require("style.1.weight", shape: [4, 3]).values.count == 12)
    #expect(try state.require("scalar", shape: []).values == [3.5])

    let wrong = #expect(throws: WeightError.self) { try state.require("style.1.weight", shape: [3, 4]) }
    let message = wrong?.description ?? ""
    #expect(message.contains("nested_zip.pt") && message.contains("'style.1.weight'"))
    #expect(message.contains("[4, 3]") && message.contains("expected [3, 4]"))

    let missing = #expect(throws: WeightError.self) {
      try state.requireAll(["style.1.weight": [4, 3], "style.2.weight": [4, 4]])
    }
    #expect(missing?.description.contains("missing tensor 'style.2.weight'") == true)
    #expect(missing?.description.contains("[4, 4]") == true)
  }

  @Test func halfAndBFloat16BitPatterns() {
    // Exact conversions, checked against IEEE definitions.
    #expect(floatFromHalf(0x3C00) == 1)
    #expect(floatFromHalf(0xC000) == -2)
    #expect(floatFromHalf(0x7BFF) == 65504)
    #expect(floatFromHalf(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
    #expect(floatFromHalf(0x8000) == 0 && floatFromHalf(0x8000).sign == .minus)
    #expect(floatFromHalf(0x7C00) == .infinity)
    #expect(floatFromHalf(0x7E00).isNaN)
  }
}
