import CRealtimeIOShims

/// Collecting completions on the host's thread.
extension IOEngine {

    /// Delivers up to `maximum` completions to `body` on the calling thread and
    /// frees their slots. Returns how many were delivered.
    ///
    /// With `rearm` (the default, for hosts that sleep on ``completionFD``): when
    /// it finds nothing, it re-arms the eventfd — reads (resets) the counter if
    /// a notification was sent, clears the notified flag, and re-checks — so the
    /// next completion makes the fd readable. Hosts that poll `reap` in a loop pass `rearm: false`: workers
    /// then never write the eventfd and neither side makes a syscall.
    ///
    /// One caller at a time: a second concurrent caller returns 0 at once.
    /// Runs ``processEvents()`` first (on-demand spawns of a `hostLoop` pool).
    @discardableResult
    public func reap(maximum: Int = .max, rearm: Bool = true, _ body: (IOCompletion) -> Void) -> Int {
        processEvents()
        guard !core.reaping.pointee.exchange(true, ordering: .acquiring) else { return 0 }
        defer { core.reaping.pointee.store(false, ordering: .releasing) }
        var delivered = drainCompletions(maximum: maximum, body)
        if delivered == 0 && rearm {
            core.rearmHostNotification()
            delivered = drainCompletions(maximum: maximum, body)
        }
        return delivered
    }

    @inline(__always)
    private func drainCompletions(maximum: Int, _ body: (IOCompletion) -> Void) -> Int {
        var delivered = 0
        // Unretained: no reference count per poll (the engine holds the slab).
        let slabRef = core.slabRef
        var w = 0
        let count = workers.count
        while w < count && delivered < maximum {
            let index = w  // worker w's index is its position
            delivered += completionRings[w]._withUnsafeGuaranteedRef { ring in
                slabRef._withUnsafeGuaranteedRef { slab in
                    // The cell carries tag and result: the record's line stays the worker's.
                    ring.drain(maximum: maximum - delivered) { slot, result, tag in
                        let completion = IOCompletion(tag: tag, result: result, worker: index)
                        slab.release(slot)
                        body(completion)
                    }
                }
            }
            w += 1
        }
        if delivered < maximum {
            delivered += drainOnDemandCompletions(maximum: maximum - delivered, body)
        }
        if delivered < maximum {
            delivered += drainPostedCompletions(maximum: maximum - delivered, body)
        }
        return delivered
    }
}
