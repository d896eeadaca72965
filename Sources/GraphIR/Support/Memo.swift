import Foundation

/// A value computed on first use and kept, safe to share between threads.
final class Memo<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value?

  func get(_ make: () -> Value) -> Value {
    lock.lock()
    defer { lock.unlock() }
    if let value { return value }
    let v = make()
    value = v
    return v
  }
}
