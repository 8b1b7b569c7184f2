import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
import PrePatchBaseline
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

// All on-demand suites run one at a time: they count this process's threads.
// They are nested in this parent so that `.serialized` covers all of them (sibling top-level
// suites may run in parallel); each nested suite lives in OnDemandTests+<Suite>.swift.
@Suite("OnDemand", .serialized)
struct OnDemandTests {
}
