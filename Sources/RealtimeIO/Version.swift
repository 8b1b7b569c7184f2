/// The library's version, printed by `rtio-admin --version` and `rtio-bench --version`.
package enum RealtimeIOVersion { package static let string = "0.2.0" }
