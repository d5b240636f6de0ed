/* A team of threads that meet at a barrier: the threads of one call to the
   kernels, each running the same loop with its own number t (see _team.pxi).

   The barrier spins (with a pause) for about 2,000 rounds, then yields the
   core: the threads meet twice per mini-batch, a few microseconds apart.
   Work that any thread may do (a scan's blocks of rows) is handed out by a
   counter, the next block to whichever thread asks first: a thread that
   starts late, or shares its core with another program, does fewer. */
#ifndef CNET_TEAM_H
#define CNET_TEAM_H

#if defined(__GNUC__) && !defined(_WIN32)
#include <sched.h>
#define CNET_THREADS 1
#else
#define CNET_THREADS 0
#endif
#include <time.h>

/* n threads; count of them at the barrier; gen: how often it has opened;
   go: set once the team is complete (n is final); stop: leave at once;
   next: the next item of the shared work (cnet_take) */
typedef struct { int n, count, gen, go, stop; long next; } cnet_team;

static inline void cnet_pause(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#endif
}

/* round `round` (1, 2, …) of a wait: a pause for the first 1,999, then the core yielded
   to other threads (team.h's barrier, crew.h's workers and caller) */
static inline void cnet_wait_round(int round)
{
#if CNET_THREADS
    if (round >= 2000) {
        sched_yield();
        return;
    }
#endif
    (void) round;
    cnet_pause();
}

static void cnet_wait_while_equal(const int *what, int value)
{
#if CNET_THREADS
    int spins = 0;
    while (__atomic_load_n(what, __ATOMIC_ACQUIRE) == value) cnet_wait_round(++spins);
#else
    (void) what;
    (void) value;
#endif
}

/* 1 in the last of the n threads to arrive, which must then call cnet_release;
   the others return 0 once it has */
static int cnet_arrive(cnet_team *t)
{
#if CNET_THREADS
    int gen;
    if (t->n == 1) return 1;
    gen = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&t->count, 1, __ATOMIC_ACQ_REL) == t->n) return 1;
    cnet_wait_while_equal(&t->gen, gen);
    return 0;
#else
    (void) t;
    return 1;
#endif
}

/* let the threads waiting in cnet_arrive go on */
static void cnet_release(cnet_team *t)
{
#if CNET_THREADS
    if (t->n == 1) return;
    __atomic_store_n(&t->count, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&t->gen, 1, __ATOMIC_RELEASE);
#else
    (void) t;
#endif
}

/* wait until all n threads are here */
static void cnet_barrier(cnet_team *t) { if (cnet_arrive(t)) cnet_release(t); }

/* the team is complete: n threads (stop: none of them is to work) */
static void cnet_go(cnet_team *t, int n, int stop)
{
    t->n = n;
    t->stop = stop;
#if CNET_THREADS
    __atomic_store_n(&t->go, 1, __ATOMIC_RELEASE);
#endif
}

/* wait for cnet_go; 1 if thread `me` is to work */
static int cnet_join(cnet_team *t, int me)
{
    cnet_wait_while_equal(&t->go, 0);
    return !t->stop && me < t->n;
}

/* the next item of the team's shared work: 0, 1, 2, … each taken by one thread */
static long cnet_take(cnet_team *t)
{
#if CNET_THREADS
    return __atomic_fetch_add(&t->next, 1, __ATOMIC_RELAXED);
#else
    return t->next++;
#endif
}

/* seconds on a clock that only goes forward (to space the checks for signals) */
static double cnet_seconds(void)
{
#if defined(_WIN32)
    return (double) clock() / CLOCKS_PER_SEC;       /* wall time on Windows */
#else
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + 1e-9 * (double) now.tv_nsec;
#endif
}

#endif
