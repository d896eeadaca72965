import Foundation
import Testing

/// A block-style YAML subset (maps, lists, plain or quoted scalars, `#` comments): enough to
/// read the deploy manifests back without a YAML library.
indirect enum MiniYAML: Equatable {
  case scalar(String), map([String: MiniYAML]), list([MiniYAML])

  subscript(_ key: String) -> MiniYAML? { if case .map(let m) = self { return m[key] } else { return nil } }
  var text: String? { if case .scalar(let s) = self { return s } else { return nil } }
  var items: [MiniYAML] { if case .list(let l) = self { return l } else { return [] } }

  static func parse(_ source: String) -> MiniYAML {
    var lines: [(Int, String)] = source.split(separator: "\n").compactMap { raw in
      let body = raw.drop(while: { $0 == " " })
      if body.isEmpty || body.hasPrefix("#") { return nil }
      return (raw.count - body.count, String(body))
    }
    var i = 0
    return block(&lines, &i, indent: lines.first?.0 ?? 0)
  }

  static func block(_ lines: inout [(Int, String)], _ i: inout Int, indent: Int) -> MiniYAML {
    if lines[i].1.hasPrefix("- ") {
      var items: [MiniYAML] = []
      while i < lines.count && lines[i].0 == indent && lines[i].1.hasPrefix("- ") {
        let rest = String(lines[i].1.dropFirst(2))
        if rest.contains(": ") || rest.hasSuffix(":") {
          lines[i] = (indent + 2, rest)  // a map item: its first key sits after the dash
          items.append(block(&lines, &i, indent: indent + 2))
        } else { items.append(.scalar(unquote(rest))); i += 1 }
      }
      return .list(items)
    }
    var map: [String: MiniYAML] = [:]
    while i < lines.count && lines[i].0 == indent {
      let line = lines[i].1
      let colon = line.firstIndex(of: ":")!
      let key = String(line[..<colon]), value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      i += 1
      if value.isEmpty, i < lines.count, lines[i].0 > indent { map[key] = block(&lines, &i, indent: lines[i].0) }
      else { map[key] = .scalar(unquote(value)) }
    }
    return .map(map)
  }

  static func unquote(_ s: String) -> String {
    s.count >= 2 && (s.hasPrefix("\"") && s.hasSuffix("\"") || s.hasPrefix("'") && s.hasSuffix("'"))
      ? String(s.dropFirst().dropLast()) : s
  }
}

/// The deploy recipes: the Kubernetes Indexed Job has what an Indexed Job of `iloc batch`
/// needs; the Slurm scripts map CPUs to threads, requeue, pass the shard count and queue the
/// report after the array. (The Slurm scripts run on a real cluster in scripts/test-slurm.sh.)
struct DeployTests {
  static let deploy = TestModels.root.appendingPathComponent("deploy")

  @Test func theIndexedJobShardsByCompletionIndexOnASharedVolume() throws {
    let text = try String(contentsOf: Self.deploy.appendingPathComponent("k8s/indexed-job.yaml"), encoding: .utf8)
    let job = MiniYAML.parse(text)
    #expect(job["apiVersion"]?.text == "batch/v1" && job["kind"]?.text == "Job")
    let spec = try #require(job["spec"])
    #expect(spec["completionMode"]?.text == "Indexed")
    let completions = try #require(spec["completions"]?.text.flatMap { Int($0) })
    #expect(completions >= 1 && spec["parallelism"]?.text.flatMap { Int($0) } != nil)
    let pod = try #require(spec["template"]?["spec"])
    #expect(["Never", "OnFailure"].contains(pod["restartPolicy"]?.text ?? ""))
    let containers = try #require(pod["containers"]?.items)
    #expect(containers.count == 1)
    let c = containers[0]
    #expect(c["image"]?.text?.isEmpty == false)
    let cmd = (c["command"]?.items ?? []).compactMap { $0.text }
    #expect(Array(cmd.prefix(2)) == ["iloc", "batch"])
    func flag(_ f: String) -> String? { cmd.firstIndex(of: f).flatMap { $0 + 1 < cmd.count ? cmd[$0 + 1] : nil } }
    // JOB_COMPLETION_INDEX is only an index: the count must come from --shards, equal to completions
    #expect(flag("--shards") == String(completions))
    #expect(!cmd.contains("--shard"), "a fixed --shard would override JOB_COMPLETION_INDEX")
    // the manifest and the outputs are on a mounted volume backed by a claim shared by every pod
    let mounts = try #require(c["volumeMounts"]?.items)
    let manifest = try #require(flag("--manifest")), out = try #require(flag("-o"))
    let mount = try #require(mounts.first { m in m["mountPath"]?.text.map { manifest.hasPrefix($0 + "/") } == true })
    #expect(out.hasPrefix((mount["mountPath"]?.text ?? "") + "/"))
    let volume = try #require(pod["volumes"]?.items.first { $0["name"] == mount["name"] })
    #expect(volume["persistentVolumeClaim"]?["claimName"]?.text?.isEmpty == false)
    let env = c["env"]?.items ?? []
    #expect(env.contains { $0["name"]?.text == "ILOC_THREADS" })
  }

  @Test func theSlurmScriptsMapCPUsRequeueAndQueueTheReport() throws {
    let sbatch = try String(contentsOf: Self.deploy.appendingPathComponent("slurm/iloc-batch.sbatch"), encoding: .utf8)
    #expect(sbatch.contains("#SBATCH --requeue"))
    #expect(sbatch.contains("export ILOC_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\""))
    #expect(sbatch.contains("--shards \"$SHARDS\"") && sbatch.contains("exec "))
    let submit = try String(contentsOf: Self.deploy.appendingPathComponent("slurm/submit.sh"), encoding: .utf8)
    #expect(submit.contains("--dependency=afterany:") && submit.contains("iloc-report.sbatch"))
    #expect(submit.contains("--array=0-$((SHARDS - 1))"))
  }
}
