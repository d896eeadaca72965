/// A table of op counts before and after each pass of a pipeline run: one row per op kind,
/// one column per pass, plus a totals row.
public struct OpCountTable {
  public var records: [PassRecord]
  public var start: Graph
  public var end: Graph
  public init(records: [PassRecord], start: Graph, end: Graph) { self.records = records; self.start = start; self.end = end }

  public func render() -> String {
    let ops = Set(start.opCounts.keys).union(end.opCounts.keys).union(records.flatMap { $0.opsAfter.keys }).sorted()
    let header = ["op", "before"] + records.map(\.pass)
    var rows = [header]
    for op in ops {
      rows.append([op, "\(start.opCounts[op] ?? 0)"] + records.map { "\($0.opsAfter[op] ?? 0)" })
    }
    rows.append(["total", "\(start.nodes.count)"] + records.map { "\($0.nodesAfter)" })
    let widths = header.indices.map { c in rows.map { $0[c].count }.max()! }
    return rows.enumerated().map { i, r in
      let line = r.enumerated().map { c, v in
        c == 0 ? v.padding(toLength: widths[c], withPad: " ", startingAt: 0) : String(repeating: " ", count: widths[c] - v.count) + v
      }.joined(separator: "  ")
      return i == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
    }.joined(separator: "\n")
  }
}
