import Testing
@testable import RealtimeIO
@Test func versionIsSet() { #expect(!RealtimeIOVersion.string.isEmpty) }
