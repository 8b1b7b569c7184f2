public enum RealtimeIOVersion { public static let string = "0.1.0" }
