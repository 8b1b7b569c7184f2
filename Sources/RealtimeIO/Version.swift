
package enum RealtimeIOVersion { package static let string = "0.1.0" }
