// lio_listio(LIO_NOWAIT) batches whose notification is raised once, after the
// last member finished.
import RealtimeIO
import Synchronization

/// A fixed set of ``count`` groups, each the notification of one lio_listio
/// batch and the number of its members still to finish.
///
/// Only batches with a notification take a group; a member records its group
/// in the ``InFlightTable`` and raises no notification of its own.
///
/// ## Protocol
/// - The submitter claims a free group (`busy` false → true, acquire), writes
///   the notification (plain), then stores `remaining` = members + 1 with
///   *release*. The extra 1 is the submitter's own reference, dropped after it
///   submitted every member, so the group cannot finish while members are
///   still being submitted.
/// - Every member's end — the worker completing it, or the submitter for a
///   member it could not submit — and the submitter's final drop call
///   ``finishMember(_:)``: a decrement of `remaining` (acquire-release; the
///   decrements continue the release sequence of the submitter's store).
/// - The call that reaches 0 reads the notification (ordered after the
///   submitter's write by that sequence), frees the group (`busy` = false,
///   release: the next claimer's notification write follows this read) and
///   returns the copy for the caller to deliver.
///
/// ## Ownership
/// A group's notification belongs to its submitter until `remaining` is
/// stored, then to whichever call brings it to 0. `busy` and `remaining` are
/// the only words shared.
final class ListIOGroups: @unchecked Sendable {
    /// Groups in flight at once; a lio_listio(LIO_NOWAIT) with a notification
    /// that finds none free fails with EAGAIN.
    static let count = 256

    private let storage: CacheAlignedStorage
    private let busy: UnsafeMutablePointer<Atomic<Bool>>
    private let remaining: UnsafeMutablePointer<Atomic<Int>>
    private let notification: UnsafeMutablePointer<Notification>

    init() {
        var layout = CacheLineLayout()
        let busyAt = layout.reserve(Atomic<Bool>.self, count: Self.count)
        let remainingAt = layout.reserve(Atomic<Int>.self, count: Self.count)
        let notificationAt = layout.reserve(Notification.self, count: Self.count)
        storage = CacheAlignedStorage(byteCount: layout.byteCount)
        busy = storage.initialize(count: Self.count, at: busyAt) { _ in Atomic<Bool>(false) }
        remaining = storage.initialize(count: Self.count, at: remainingAt) { _ in Atomic<Int>(0) }
        notification = storage.initialize(count: Self.count, at: notificationAt) { _ in Notification() }
    }

    /// Claims a free group for a batch of `members` requests, or nil (EAGAIN).
    func claim(_ notification: Notification, members: Int) -> Int? {
        for g in 0..<Self.count {
            if busy[g].compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
                self.notification[g] = notification
                remaining[g].store(members + 1, ordering: .releasing)  // +1 held by the submitter
                return g
            }
        }
        return nil
    }

    /// Drops one reference to group `g`; returns its notification to deliver
    /// if this was the last one (the group is free again by then).
    func finishMember(_ g: Int) -> Notification? {
        guard remaining[g].subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return nil }
        let n = notification[g]
        busy[g].store(false, ordering: .releasing)
        return n
    }
}
