/* A crew of worker threads kept for the process: chapter 6's kernels share one
   call's loops among them (cnet_crew_run), the caller running part 0 and
   worker t part t.  A worker that has finished waits for the next call (a
   mini-batch's kernel calls come tens of microseconds apart) as team.h's
   barrier waits, spinning and then yielding its core, for up to a
   millisecond; then it sleeps on a condition variable until a call comes, so
   an idle process holds no core.  The caller waits for the workers' parts the
   same way, without sleeping.

   One call runs at a time: a call made while another runs (from a second
   Python thread) runs all its parts on its own thread, in order.  After a
   fork the child starts its own crew.  Without POSIX threads (Windows, or
   another compiler) every call runs its parts in order on the caller. */
#ifndef CNET_CREW_H
#define CNET_CREW_H

#include "team.h"           /* cnet_seconds, cnet_wait_round */

#if defined(__GNUC__) && !defined(_WIN32)
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>
#define CNET_CREW 1
#else
#define CNET_CREW 0
#endif

/* *p += v, and the sum, seen by every thread / *p as every thread has last written it */
static inline int cnet_atomic_add(int *p, int v)
{
#if defined(__GNUC__)
    return __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL);
#else
    return *p += v;
#endif
}

static inline int cnet_atomic_load(const int *p)
{
#if defined(__GNUC__)
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
#else
    return *(volatile const int *) p;
#endif
}

/* one part of a call: part `part` of `parts` of the work `job` describes */
typedef void (*cnet_crew_task)(void *job, int part, int parts);

#define CNET_CREW_MAX 256

#if CNET_CREW
typedef struct {
    int started;            /* worker threads running: they are 1 … started */
    int busy;               /* 1 while a call is running */
    long gen;               /* how many calls have been handed out */
    int pending;            /* workers that have not yet finished the current call */
    int sleeping;           /* workers asleep on `wake` */
    cnet_crew_task task;    /* the current call */
    void *job;
    int parts;
    pid_t pid;              /* the process that started the workers */
    pthread_mutex_t lock;
    pthread_cond_t wake;
} cnet_crew_state;

static cnet_crew_state cnet_crew = {0, 0, 0, 0, 0, 0, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER,
                                    PTHREAD_COND_INITIALIZER};
/* the calls handed out before worker t started: it waits for the next one */
static long cnet_crew_first[CNET_CREW_MAX];

/* worker t: each call's part t (if the call has that many parts), then wait for the next */
static void *cnet_crew_worker(void *arg)
{
    int t = (int) (intptr_t) arg, spins;
    long seen = cnet_crew_first[t], gen;
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "cnet-crew");     /* as ps and /proc name it */
#endif
    for (;;) {
        double until = cnet_seconds() + 1e-3;
        for (spins = 1; (gen = __atomic_load_n(&cnet_crew.gen, __ATOMIC_ACQUIRE)) == seen; spins++) {
            cnet_wait_round(spins);
            if (spins % 256 == 0 && cnet_seconds() > until) {
                pthread_mutex_lock(&cnet_crew.lock);
                cnet_crew.sleeping++;
                while (__atomic_load_n(&cnet_crew.gen, __ATOMIC_ACQUIRE) == seen)
                    pthread_cond_wait(&cnet_crew.wake, &cnet_crew.lock);
                cnet_crew.sleeping--;
                pthread_mutex_unlock(&cnet_crew.lock);
            }
        }
        seen = gen;
        if (t < cnet_crew.parts) cnet_crew.task(cnet_crew.job, t, cnet_crew.parts);
        __atomic_sub_fetch(&cnet_crew.pending, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* workers 1 … n − 1 running (as many as the system gives); how many parts a call can
   then have at once */
static int cnet_crew_hire(int n)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    if (cnet_crew.pid != getpid()) {        /* a new process (or a fork's child): no workers yet */
        cnet_crew.started = 0;
        cnet_crew.sleeping = 0;
        pthread_mutex_init(&cnet_crew.lock, NULL);
        pthread_cond_init(&cnet_crew.wake, NULL);
        cnet_crew.pid = getpid();
    }
    if (n > CNET_CREW_MAX) n = CNET_CREW_MAX;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* the workers block every signal (they inherit this thread's mask): a Ctrl-C goes to
       a thread that runs Python */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (cnet_crew.started + 1 < n) {
        cnet_crew_first[cnet_crew.started + 1] = cnet_crew.gen;
        if (pthread_create(&thread, &attr, cnet_crew_worker, (void *) (intptr_t) (cnet_crew.started + 1)))
            break;
        cnet_crew.started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return cnet_crew.started + 1;
}
#endif

/* task(job, t, parts) for t = 0 … parts − 1, at once on the crew's threads when it is
   free (part 0 on this thread), else in order here; returns when every part is done */
static void cnet_crew_run(cnet_crew_task task, void *job, int parts)
{
    int t;
#if CNET_CREW
    int expected = 0, workers;
    if (parts > 1 && __atomic_compare_exchange_n(&cnet_crew.busy, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                                 __ATOMIC_RELAXED)) {
        if (cnet_crew_hire(parts) >= parts) {
            workers = cnet_crew.started;
            cnet_crew.task = task;
            cnet_crew.job = job;
            cnet_crew.parts = parts;
            __atomic_store_n(&cnet_crew.pending, workers, __ATOMIC_RELAXED);
            pthread_mutex_lock(&cnet_crew.lock);
            __atomic_add_fetch(&cnet_crew.gen, 1, __ATOMIC_RELEASE);
            if (cnet_crew.sleeping) pthread_cond_broadcast(&cnet_crew.wake);
            pthread_mutex_unlock(&cnet_crew.lock);
            task(job, 0, parts);
            for (t = 1; __atomic_load_n(&cnet_crew.pending, __ATOMIC_ACQUIRE); t++) cnet_wait_round(t);
            __atomic_store_n(&cnet_crew.busy, 0, __ATOMIC_RELEASE);
            return;
        }
        __atomic_store_n(&cnet_crew.busy, 0, __ATOMIC_RELEASE);
    }
#endif
    for (t = 0; t < parts; t++) task(job, t, parts);
}

#endif
