public enum GraphIRVersion { public static let string = "0.1.0" }
