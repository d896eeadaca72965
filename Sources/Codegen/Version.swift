/// The iloc release: what `iloc --version` prints, and part of every kernel cache key, so a
/// new release never loads an object that an older one wrote.
public enum ILOCVersion {
  public static let string = "0.1.0"
}
