import ArgumentParser
import Foundation
import Runtime

/// `iloc keygen`: a new Ed25519 key pair for signing artifacts.
struct KeygenCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "keygen",
    abstract: "Make an Ed25519 key pair for signing artifacts (`iloc compile --sign-key`, `iloc run --trusted-key`).",
    discussion: """
      Writes the private key to the given path (readable by its owner only) and the public key \
      next to it with .pub appended. Each file is one line of base64 holding the raw 32-byte \
      key (the private key is the RFC 8032 seed). Existing files are never replaced.
        iloc keygen -o signing-key
        iloc compile --model dcgan --task inpaint --mask box:20,16,24,32 --sign-key signing-key -o art/
        iloc run art/ --trusted-key signing-key.pub --task inpaint --mask box:20,16,24,32 --observed holes.png -o out/
      """
  )
  @Option(name: [.short, .customLong("output")], help: "Private key file (the public key goes to this path + .pub).")
  var output: String

  func run() throws {
    let url = URL(fileURLWithPath: output)
    let key = Signing.SigningKey()
    try key.write(to: url)
    print("wrote \(url.path) (private key, keep it secret) and \(url.path).pub "
          + "(public key, give it to `iloc run --trusted-key`)")
  }
}
