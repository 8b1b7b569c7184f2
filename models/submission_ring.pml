/*
 * submission_ring.pml — the submission ring's claim/publish/park/wake protocol
 *
 * Models Sources/RealtimeIO/Ring/SubmissionRing.swift (tryPush, tryPop/drain,
 * waitForEntries) and Sources/RealtimeIO/Ring/ConsumerWakeup.swift
 * (prepareToPark, cancelPark, park, wakeIfParked, wakeParked), with the
 * futex as the kernel implements it (FUTEX_WAIT re-checks the word atomically
 * with queueing the waiter). The consumer is Worker.loop: waitForEntries,
 * then drain, forever.
 *
 * Each Promela statement is one atomic step and every interleaving is
 * explored under sequential consistency: the protocol's own argument
 * (ConsumerWakeup "Why no wake-up is lost") relies on exactly the operations
 * the code makes sequentially consistent, and the seeded bug
 * BUG_LOAD_BEFORE_PUBLISH is what a weaker ordering of the producer's publish
 * and flag load would allow.
 *
 * Properties
 *   - assertions: every item consumed exactly once and in each producer's
 *     order; a producer never writes a cell that still holds an unconsumed
 *     entry (no overflow); the consumer never reads an unpublished cell.
 *   - end states (safety run): the consumer never sleeps for ever while an
 *     item is published — a lost wake-up leaves the consumer blocked in
 *     FUTEX_WAIT and every producer finished or waiting for room: an invalid
 *     end state.
 *   - ltl all_consumed (liveness run, weak fairness): every item is
 *     eventually consumed.
 *
 * Seeded bugs (each must be caught):
 *   BUG_NO_RECHECK           consumer announces sleep and parks without re-checking the ring
 *   BUG_LOAD_BEFORE_PUBLISH  producer loads the parked flag before its publish becomes visible
 *   BUG_NO_FULL_CHECK        producer claims a position without checking that its cell is free
 */

#ifndef NPROD
#define NPROD 2          /* producers (host threads submitting) */
#endif
#ifndef NITEMS
#define NITEMS 2         /* items each producer pushes */
#endif
#ifndef CAP
#define CAP 2            /* ring capacity (a power of two in the code) */
#endif
#ifndef NINTR
#define NINTR 1          /* futex waits that may end early (EINTR, timeout, spurious) */
#endif
#define TOTAL (NPROD * NITEMS)

#define AWAKE    0
#define SLEEPING 1

byte enq = 0;           /* enqueuePosition (producers, CAS) */
byte deq = 0;           /* dequeuePosition (consumer only) */
byte consumed = 0;      /* consumedCount */
byte seq[CAP];          /* cell sequence numbers */
byte payload[CAP];       /* cell payloads: producer * NITEMS + index */
bit  ghost[CAP];         /* verification only: the cell holds an unconsumed entry */
bit  state = AWAKE;      /* the futex word of ConsumerWakeup */
bit  queued = 0;         /* the consumer is in the kernel's futex wait queue */
byte intr = NINTR;       /* budget of early futex returns */
byte nextIndex[NPROD];   /* consumer: next index expected from each producer */

#define published(pos) (seq[(pos) % CAP] == (pos) + 1)

/* ConsumerWakeup.wakeParked: one compare-exchange sleeping -> awake wins the FUTEX_WAKE */
inline wakeParked() {
  atomic {
    if
    :: state == SLEEPING -> state = AWAKE; won = 1
    :: else -> won = 0
    fi
  };
  if
  :: won -> queued = 0          /* futex_wake(word, 1): dequeues the waiter, if any */
  :: else
  fi
}

proctype Producer(byte id) {
  byte i = 0;
  byte pos, seen;
  short diff;
  bit  won, parked;
  do
  :: i == NITEMS -> break
  :: else ->
  attempt:
    atomic {
      seen = consumed;          /* environment: the host retries a full submit after progress */
      pos = enq                 /* relaxed load */
    };
  claim:
#ifdef BUG_NO_FULL_CHECK
    diff = 0;
#else
    diff = seq[pos % CAP] - pos;   /* acquire load of the cell's sequence */
#endif
    if
    :: diff == 0 ->
      atomic {                  /* compareExchange(expected: pos, desired: pos + 1) */
        if
        :: enq == pos -> enq = pos + 1; won = 1
        :: else -> pos = enq; won = 0
        fi
      };
      if
      :: won ->
        d_step {                                /* the claimed cell is this producer's alone until the publish */
          assert(ghost[pos % CAP] == 0);        /* no overflow: the cell is free */
          ghost[pos % CAP] = 1;
          payload[pos % CAP] = id * NITEMS + i  /* relaxed payload store */
        };
#ifdef BUG_LOAD_BEFORE_PUBLISH
        parked = state;                         /* flag load hoisted above the publish */
        seq[pos % CAP] = pos + 1;
#else
        seq[pos % CAP] = pos + 1;               /* publish: sequentially consistent store */
        parked = state;                         /* wakeIfParked: sequentially consistent load */
#endif
        if
        :: parked == SLEEPING -> wakeParked()
        :: else
        fi;
        d_step { i++; parked = 0; won = 0; diff = 0; seen = 0; pos = 0 }
      :: else -> goto claim                     /* lost the race: retry at the current position */
      fi
    :: diff < 0 ->
      /* full: tryPush returns false; the host reaps and retries once the worker has progressed */
      (consumed != seen);
      goto attempt
    :: diff > 0 ->
      pos = enq;
      goto claim
    fi
  od
}

proctype Consumer() {
  bit  ready, won;
  byte v, p;
  do
  :: consumed == TOTAL -> break   /* model bound only: the worker loops for ever */
  :: else ->
    /* waitForEntries: the first check and the spin phase (in an interleaving
       model any number of relaxed checks reduces to one) */
    ready = published(deq);
    do
    :: ready -> break
    :: else ->
      state = SLEEPING;             /* prepareToPark: sequentially consistent store */
#ifndef BUG_NO_RECHECK
      if
      :: published(deq) ->          /* re-check: sequentially consistent load */
        state = AWAKE;              /* cancelPark */
        ready = 1
      :: else ->
#endif
        /* park */
        do
        :: state == SLEEPING ->
          atomic {                  /* FUTEX_WAIT(word, sleeping): value check and queueing are one step */
            if
            :: state == SLEEPING -> queued = 1
            :: else                 /* EAGAIN: valueChanged */
            fi
          };
          if
          :: queued == 0 -> skip    /* woken (or the value had changed) */
          :: atomic { queued == 1 && intr > 0 -> queued = 0; intr-- } ; break   /* EINTR / timeout */
          fi
        :: else -> break
        od;
        state = AWAKE;              /* relaxed store after the park loop */
        ready = published(deq)      /* re-check after the wake */
#ifndef BUG_NO_RECHECK
      fi
#endif
    od;
    /* drain: tryPop until empty (the batch bound of 32 exceeds TOTAL) */
    do
    :: d_step {                     /* tryPop: acquire load of the head cell's sequence, then the payload */
         published(deq) ->          /* (the published cell is the consumer's alone until released) */
         assert(ghost[deq % CAP] == 1);
         v = payload[deq % CAP];
         p = v / NITEMS;
         assert(v % NITEMS == nextIndex[p]);   /* exactly once, in each producer's order */
         nextIndex[p]++;
         ghost[deq % CAP] = 0;
         v = 0; p = 0
       };
       d_step {                     /* release the cell for the next lap; dequeuePosition and consumedCount */
         seq[deq % CAP] = deq + CAP;
         deq++;
         consumed = deq
       }
    :: else -> break
    od
  od;
  p = 0;
  do
  :: p < NPROD -> assert(nextIndex[p] == NITEMS); p++
  :: else -> break
  od
}

init {
  byte k = 0;
  atomic {
    do
    :: k < CAP -> seq[k] = k; k++
    :: else -> break
    od;
    k = 0;
    do
    :: k < NPROD -> run Producer(k); k++
    :: else -> break
    od;
    run Consumer()
  }
}

ltl all_consumed { <> (consumed == TOTAL) }
