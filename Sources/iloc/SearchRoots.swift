import Foundation

/// Where `models/` (with `models/cache`) may be: the current directory and the executable's
/// ancestors, so shipped model names work from the checkout and from an installed binary.
func modelSearchRoots() -> [URL] {
  var roots = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
  var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
  for _ in 0..<4 { roots.append(dir); dir = dir.deletingLastPathComponent() }
  return roots
}
