// lio_listio(LIO_NOWAIT) batches whose notification is raised once, after the
// last member finished.
import RealtimeIO
import Synchronization

/// A fixed set of ``count`` groups, each the notification of one lio_listio
/// batch and the number of its members still to finish.
///
/// Only batches with a notification take a group; a member records its group
/// in its ``SlotRequest`` and also raises its own notification (as glibc does).
///
/// ## Protocol
/// - The submitter claims a free group (`busy` false → true, acquire), writes
///   the notification (plain), then stores `remaining` = 1 with *release*: its
///   own reference, dropped after it submitted every member, so the group
///   cannot finish while members are still being submitted. It adds 1 before
///   submitting each member.
/// - Every member's end — the worker completing it, or the submitter for a
///   member it could not submit — and the submitter's final drop call
///   ``finishMember(_:)``: a decrement of `remaining` (acquire-release; the
///   decrements continue the release sequence of the submitter's store).
/// - The call that reaches 0 reads the notification (ordered after the
///   submitter's write by that sequence), delivers it, then frees the group
///   (`busy` = false, release: the next claimer's notification write follows
///   that read).
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

    /// Claims a free group for a batch (the submitter holds its one
    /// reference), or nil (EAGAIN).
    func claim(_ notification: Notification) -> Int? {
        for g in 0..<Self.count {
            if busy[g].compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
                self.notification[g] = notification
                remaining[g].store(1, ordering: .releasing)  // the submitter's reference
                return g
            }
        }
        return nil
    }

    /// The submitter, before it submits a member: one more reference (the
    /// submitter's own keeps the count above 0 meanwhile).
    func addMember(_ g: Int) {
        remaining[g].add(1, ordering: .relaxed)
    }

    /// Drops one reference to group `g`; true if it was the last: the caller
    /// then delivers ``notification(_:)`` and calls ``free(_:)``.
    func finishMember(_ g: Int) -> Bool {
        remaining[g].subtract(1, ordering: .acquiringAndReleasing).newValue == 0
    }

    /// The notification of a finished group (its last finisher only).
    func notification(_ g: Int) -> Notification { notification[g] }

    /// Frees a finished group — after its notification was delivered (a
    /// `SIGEV_THREAD` function: after it returned), so a group is never
    /// queued on the ``ThreadNotifier`` twice.
    func free(_ g: Int) {
        busy[g].store(false, ordering: .releasing)
    }
}
