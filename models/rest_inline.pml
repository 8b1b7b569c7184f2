/*
 * rest_inline.pml — reads during a rest: a submitter that runs a read itself
 * while the worker rests never overtakes a request it queued on that worker
 * before.
 *
 * Follows IOEngine.submit (the `readsDuringRest` branch),
 * SubmissionRing.restsWithNothingQueued / tryPop, ConsumerWakeup.rest and
 * noteServedDuringRest, and Worker.loop's `.rest` case.
 *
 * NPROD producers each submit NITEMS requests, in order. A producer reads
 * consumedCount, then enqueuePosition, then the wake-up word; if the ring looks
 * empty and the word says resting it runs the request itself ("inline"), else it
 * pushes it. The worker pops (storing `awake` first, which the pop's release
 * store orders before `consumedCount`), runs what it popped in a separate step,
 * and may rest at any point where it found no work: it stores `resting`
 * (sequentially consistent), re-checks the ring, sleeps, and exchanges the word
 * back to `awake`.
 *
 * Checked: every request of a producer runs after all its earlier ones finished
 * (`done[p] == k` when request k of producer p runs), whoever runs it.
 *
 * Seeded bugs (tools/check-models expects each to be caught):
 *   BUG_STATE_FIRST       the producer reads the word before consumedCount
 *   BUG_AWAKE_AFTER_RUN   the worker pops while still `resting` and stores
 *                         `awake` only after running the request
 * Promela is sequentially consistent: the acquire/release pairs of the code are
 * modelled by the order of the steps they enforce.
 */

#ifndef NPROD
#define NPROD 2
#endif
#ifndef NITEMS
#define NITEMS 2
#endif
#define TOTAL (NPROD * NITEMS)

#define AWAKE 0
#define RESTING 2
#define SERVED 3

byte enq = 0;          /* enqueuePosition */
byte consumed = 0;     /* consumedCount */
byte word = AWAKE;     /* the wake-up word */
byte ring[TOTAL];      /* entry = producer * NITEMS + k */
byte done[NPROD];      /* requests of each producer finished */
byte finished = 0;     /* all producers' requests finished */

inline run_request(p, k) {
    assert(done[p] == k);   /* every earlier request of p already finished */
    done[p]++;
    finished++
}

proctype Producer(byte p) {
    byte k = 0, c, e, w;
    do
    :: k < NITEMS ->
#ifdef BUG_STATE_FIRST
        w = word;
        c = consumed;
        e = enq;
#else
        c = consumed;        /* acquire */
        e = enq;
        w = word;
#endif
        if
        :: c == e && w >= RESTING ->
            run_request(p, k);                       /* preadv2(RWF_NOWAIT) on the submitter */
            atomic { if :: word == RESTING -> word = SERVED :: else -> skip fi }  /* noteServedDuringRest */
        :: else ->
            atomic { ring[enq] = p * NITEMS + k; enq++ }   /* tryPush (claim and publish as one step) */
        fi;
        k++
    :: else -> break
    od
}

active proctype Worker() {
    byte entry;
    bool served;
    do
    :: finished == TOTAL -> break
    :: consumed < enq ->
#ifndef BUG_AWAKE_AFTER_RUN
        /* a rest always ended (word back to awake) before this pop */
        entry = ring[consumed];
        consumed++;                                  /* release */
        run_request(entry / NITEMS, entry % NITEMS)
#else
        entry = ring[consumed];
        consumed++;
        run_request(entry / NITEMS, entry % NITEMS);
        word = AWAKE
#endif
    :: word == AWAKE ->
        /* rest(until:unless:) — taken whenever; the plan's checks only narrow it */
        word = RESTING;                              /* sequentially consistent */
        if
        :: consumed < enq ->                         /* the re-check found work */
            atomic { served = (word == SERVED); word = AWAKE }
        :: else ->
#ifdef BUG_AWAKE_AFTER_RUN
            /* buggy: serve straight out of the rest, `awake` stored after the run */
            if
            :: consumed < enq ->
                entry = ring[consumed];
                consumed++;
                run_request(entry / NITEMS, entry % NITEMS)
            :: true -> skip
            fi;
#endif
            skip;                                    /* clock_nanosleep */
            atomic { served = (word == SERVED); word = AWAKE }
        fi
    od
}

init {
    byte p;
    atomic {
        for (p : 0 .. NPROD - 1) { run Producer(p) }
    }
}
