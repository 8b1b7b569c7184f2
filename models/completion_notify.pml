/*
 * completion_notify.pml — the completion flag / eventfd re-arm protocol
 *
 * Models Sources/RealtimeIO/Engine/EngineCore.swift notifyHost() (workers,
 * after pushing a drained batch of completions) and rearmHostNotification(),
 * with the host's loop around IOEngine.reap (drain, and when nothing was
 * found: re-arm, drain again) and, when reap returned 0, a sleep in poll(2)
 * on the non-blocking eventfd until it is readable. Completion rings are the
 * SPSC CompletionRing (push = the cell's sequence store, modelled as a count;
 * drain = the cells up to the first not ready, then head).
 *
 * Each Promela statement is one atomic step; every interleaving is explored
 * under sequential consistency (the code makes the flag operations and the
 * fences on both sides sequentially consistent for exactly this argument).
 * eventfd: write adds 1 to the counter; read (EFD_NONBLOCK) returns the
 * counter and zeroes it, or EAGAIN when it is 0; poll is readable while the
 * counter is non-zero.
 *
 * Properties
 *   - end states (safety run): the host never sleeps in poll for ever while a
 *     completion is pending — a lost wake-up leaves the host blocked in poll
 *     after every worker finished: an invalid end state.
 *   - assertion: the host reaps exactly the completions pushed.
 *   - ltl all_reaped (liveness run, weak fairness): every completion is
 *     eventually reaped.
 *
 * Seeded bugs (each must be caught):
 *   BUG_CLEAR_THEN_READ  the first re-arm: exchange the flag to false, then read the counter
 *   BUG_NO_REDRAIN       re-arm, then sleep without draining the rings again
 */

#ifndef NWORKERS
#define NWORKERS 2        /* workers */
#endif
#ifndef NCOMPLETIONS
#define NCOMPLETIONS 2    /* completions each worker posts */
#endif
#define TOTAL (NWORKERS * NCOMPLETIONS)

byte tail[NWORKERS];      /* CompletionRing.tail (worker) */
byte head[NWORKERS];      /* CompletionRing.head (host) */
bit  notified = 0;        /* EngineCore.hostNotified */
byte counter = 0;         /* the eventfd's counter */
byte reaped = 0;          /* completions the host delivered */

proctype Worker(byte w) {
  byte posted = 0;
  bit  seen, old;
  do
  :: posted == NCOMPLETIONS -> break
  :: else ->
    /* one drained batch: push one or more completions (the batch size is any) */
    tail[w]++; posted++;
    do
    :: posted < NCOMPLETIONS -> tail[w]++; posted++
    :: break
    od;
    /* notifyHost(): fence; relaxed load; exchange(true); the winner writes */
    seen = notified;
    if
    :: seen == 0 ->
      atomic { old = notified; notified = 1 };
      if
      :: old == 0 -> counter++      /* write(eventFD, 1) — a separate step: it may be in flight */
      :: else
      fi
    :: else
    fi;
    d_step { seen = 0; old = 0 }
  od
}

proctype Host() {
  byte delivered, w, avail;
  bit  flag, consumed;
  do
  :: reaped == TOTAL -> break     /* model bound only: the host loops for ever */
  :: else ->
    /* reap: drainCompletions */
    delivered = 0; w = 0;
    do
    :: w < NWORKERS ->
      d_step { avail = tail[w] - head[w]; head[w] = tail[w]; delivered = delivered + avail; reaped = reaped + avail; avail = 0 };
      w++
    :: else -> break
    od;
    if
    :: delivered == 0 ->
      /* rearmHostNotification() */
#ifdef BUG_CLEAR_THEN_READ
      atomic { flag = notified; notified = 0 };     /* exchange(false) */
      if
      :: flag -> atomic { consumed = (counter > 0); counter = 0 }   /* read(eventFD) */
      :: else
      fi;
#else
      flag = notified;                              /* acquire load */
      if
      :: flag ->
        atomic { consumed = (counter > 0); counter = 0 };           /* read(eventFD): 8 bytes or EAGAIN */
        if
        :: consumed -> notified = 0                 /* clear only after consuming the count */
        :: else                                     /* the winner's write is in flight: keep the flag */
        fi
      :: else
      fi;
#endif
      d_step { flag = 0; consumed = 0 };
      /* fence; drain again */
#ifndef BUG_NO_REDRAIN
      w = 0;
      do
      :: w < NWORKERS ->
        d_step { avail = tail[w] - head[w]; head[w] = tail[w]; delivered = delivered + avail; reaped = reaped + avail; avail = 0 };
        w++
      :: else -> break
      od;
#endif
      skip
    :: else
    fi;
    /* reap returned 0: sleep in poll until the eventfd is readable */
    if
    :: delivered == 0 -> (counter > 0)
    :: else
    fi;
    d_step { delivered = 0; w = 0 }
  od;
  assert(reaped == TOTAL)
}

init {
  byte k = 0;
  atomic {
    do
    :: k < NWORKERS -> run Worker(k); k++
    :: else -> break
    od;
    run Host()
  }
}

ltl all_reaped { <> (reaped == TOTAL) }
