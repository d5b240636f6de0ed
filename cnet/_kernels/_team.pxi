# Threads.  A call can share its work among T threads (num_threads): Python
# threads that each run the same nogil part with their own t, meeting at a
# barrier (team.h).  Every weight and every sum is computed by exactly one
# thread, in the same order as with one thread, so the results are the same
# bits whatever T is.
#
# A Job is what every call's work has (its part, the team, the plan, the inputs);
# a TrainJob (below) or a ScanJob (_scan.pxi) begins with one, and its `part` says
# what thread t does of it: train_part (SGD over mini-batches), scan_part (one
# forward pass over all the rows) or columns_part (the same over the caller's
# columns, packing them as it goes).  run_on_threads runs a Work's part on up to T
# threads and waits for them.
#
# Signals: training runs Python's signal handlers between mini-batches, about
# every CHECK_SECONDS (thread 0, on the main thread, takes the GIL to do so); if
# one raises (KeyboardInterrupt), every thread stops at the same mini-batch
# boundary and the call raises that exception once the threads are done.
from cpython.exc cimport PyErr_CheckSignals
from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF
from cnet._kernels.alloc cimport cnet_free
from cnet._kernels.real cimport real_t
from cnet._kernels.team cimport (cnet_team, CNET_THREADS, cnet_arrive, cnet_release,
                                 cnet_barrier, cnet_go, cnet_join, cnet_seconds, cnet_take)

import threading

cdef double CHECK_SECONDS = 0.05    # how often training looks for signals, at most


ctypedef void (*Part)(Job *job, int t) noexcept nogil


cdef struct Job:
    # what every job has: the head of a TrainJob or a ScanJob, which part casts it back to
    Part part           # what thread t does: part(job, t)
    cnet_team team
    Net *net
    const Rows *X
    const double *Y     # desired outputs, n_out a row (scanning: NULL for no costs)
    Py_ssize_t n_out
    int cost
    Py_ssize_t count    # training: the length of order; scanning: the rows of X
    real_t *act         # training: 2 · mbs rows of `width` (a mini-batch's outputs, the
    #                     next's); scanning: SCAN_GROUP rows of `width` for each thread
    # signals (training looks for them)
    int check_signals   # 1: thread 0 runs Python's signal handlers (it is the main thread)
    double next_check   # when next, in cnet_seconds()
    int interrupted     # set by thread 0 before a barrier: all stop after it
    PyObject *error     # the exception a handler raised (a reference), or NULL


cdef struct TrainJob:
    # SGD over mini-batches (train_part)
    Job job             # (first: a TrainJob's address is its Job's)
    const Py_ssize_t *order
    Py_ssize_t mbs
    real_t eta, decay   # decay: 1 − ηλ/n for the lazy scale (1: the step applies the penalty)
    real_t mu, penalty  # Step's: momentum, and ηλ/n for L1 or with momentum
    bint l1
    const real_t *maps  # momentum with L2 (or none, μ < 2^−7.5): the maps of catch_up
    Py_ssize_t steps    # (else NULL), for up to `steps` steps;
    const real_t *powers    # or without a penalty: the μ^k and g_k of catch_up_scaled (else NULL),
    Py_ssize_t period       # k = 0 … period;
    int *stamp          # and where each row of each panel of the packed input layer is
    #                     (panels × 3 n_in: catch_up)
    real_t *delta       # mbs rows of `width`: the errors
    real_t *nabla_b     # width: ∇b of every layer (at its out)


cdef class Work:
    # A job and what it points into, alive as long as any of its threads: a TrainWork
    # or a ScanWork (_scan.pxi), whose job is `job`
    cdef Job *job
    cdef Rows rows
    cdef object keep

    def __dealloc__(self):
        if self.job != NULL:
            cnet_free(self.job.act)
            Py_XDECREF(self.job.error)


cdef class TrainWork(Work):
    cdef TrainJob train

    def __cinit__(self):
        self.job = &self.train.job

    def __dealloc__(self):
        cnet_free(self.train.delta)
        cnet_free(self.train.nabla_b)


def threads_supported():
    """True when this build can share a call among several threads."""
    return bool(CNET_THREADS)


def _thread(Work w, int t):
    with nogil:
        if cnet_join(&w.job.team, t):
            w.job.part(w.job, t)


cdef void run_on_threads(Work w, Py_ssize_t wanted) except *:
    # w.job.part(w.job, t) for t = 0 … T − 1, t = 0 on this thread and the others
    # on new ones: T = wanted, fewer if the system refuses a thread.  Returns when
    # all are done.  If this thread is interrupted while starting them, the team
    # is told to stop, and the started threads leave without working.
    threads = []
    complete = False
    try:
        for t in range(1, wanted if CNET_THREADS else 1):
            thread = threading.Thread(target=_thread, args=(w, t), daemon=True)
            try:
                thread.start()
            except RuntimeError:        # "can't start new thread": go on with fewer
                break
            threads.append(thread)
        complete = True
    finally:
        cnet_go(&w.job.team, len(threads) + 1, not complete)
    w.job.check_signals = threading.current_thread() is threading.main_thread()
    w.job.next_check = cnet_seconds() + CHECK_SECONDS
    with nogil:
        w.job.part(w.job, 0)
    for thread in threads:
        thread.join()
    if w.job.error != NULL:
        error = <object> w.job.error
        Py_XDECREF(w.job.error)
        w.job.error = NULL
        raise error


cdef int signal_raised(Job *job) noexcept with gil:
    # Run the handlers of the signals that have arrived; 1 if one raised, its
    # exception kept in job.error
    try:
        PyErr_CheckSignals()
    except BaseException as error:
        Py_INCREF(error)
        job.error = <PyObject *> error
        return 1
    return 0


cdef inline void prefetch_target(const Job *job, Py_ssize_t e) noexcept nogil:
    # Ask the cache for example e's desired output, which its output error reads:
    # in shuffled order each is a miss (the packed inputs stream through the cache)
    cdef const char *y = <const char *> (job.Y + e * job.n_out)
    cdef Py_ssize_t b
    for b in range(0, job.n_out * sizeof(double), 64):
        cnet_prefetch(y + b)
    cnet_prefetch(y + job.n_out * sizeof(double) - 1)


cdef enum:
    SHARED_STEP_MIN = 2048      # weights of another layer whose step the threads share


cdef void train_part(Job *job, int t) noexcept nogil:
    # Thread t's part of SGD over the mini-batches order[0:mbs], order[mbs:2·mbs], …
    # (the last may be shorter).  The packed input layer -- nearly all the work -- is
    # split by its outputs: thread t owns its panels q ≡ t mod T (each its own block of
    # memory, so that threads never share a cache line) and those columns of its biases.
    # Per mini-batch:
    #   1. its z on those columns, for the mini-batch's examples together (input_sums);
    #   2. (after all threads) the rest of the forward pass and δ of examples k ≡ t mod T;
    #   3. (after all) its step on those panels, and of part t of the rows of each other
    #      layer of SHARED_STEP_MIN weights or more (its biases: the last thread's; a
    #      smaller layer: all of it by the last thread, whose weights the others then need
    #      not take over from their caches).
    # Without momentum, 3 does 1 for the next mini-batch too, each block of the packed
    # input layer's rows read for its sums right after its update (dense_terms), while it
    # is in L1.
    cdef TrainJob *train = <TrainJob *> job
    cdef Net *net = job.net
    cdef Py_ssize_t T = job.team.n, W = net.width, start = 0, m, k, e, l, q, batch = 0, ahead, next_m, parts
    cdef bint summed = False     # whether this mini-batch's input sums are computed already
    cdef real_t *act
    cdef Layer *layer
    cdef Step step
    step.mu = train.mu
    step.penalty = train.penalty
    step.l1 = train.l1
    step.lazy = train.maps != NULL or train.powers != NULL
    step.sigma = 1
    # how far ahead examples are prefetched: the next mini-batch, whole, asked for right
    # after this one's input sums (input_sums reads all of a mini-batch's entries at once,
    # block by block of the packed input layer's rows -- at the start of its step, or fused into this step's
    # update -- and so does catch_up at the start of its step; the asks then overlap the
    # barrier and backward instead of delaying the input sums)
    ahead = train.mbs
    while start < job.count:
        if t == 0 and job.check_signals and cnet_seconds() >= job.next_check:
            job.interrupted = signal_raised(job)
            job.next_check = cnet_seconds() + CHECK_SECONDS
        m = train.mbs if job.count - start > train.mbs else job.count - start
        step.c = train.eta / m
        step.first = start == 0
        step.last = start + m >= job.count
        # the other half of act from the last mini-batch's, which the last thread may still be reading
        act = job.act + (batch % 2) * train.mbs * W
        if step.lazy:
            q = t
            while q < net.panels:
                if train.powers != NULL:
                    catch_up_scaled(net, job.X, train.order + start, m, q, train.stamp + q * 3 * net.packed.n_in,
                                    batch + 1, train.powers, train.period)
                else:
                    catch_up(net, job.X, train.order + start, m, q, train.stamp + q * 3 * net.packed.n_in,
                             batch + 1, train.maps, train.steps)
                q += T
            if train.powers != NULL:
                step.sigma = train.powers[batch + 1 - fold_base(batch + 1, train.period)]
        q = t
        while q < net.panels and not summed:     # (else the last step computed them)
            input_sums(net, job.X, train.order + start, m, q, act, W)
            q += T
        for k in range(m):
            if start + k + 2 * ahead < job.count and t < net.panels:
                # where the example after that starts, which prefetch_example will read
                cnet_prefetch(&job.X.start[train.order[start + k + 2 * ahead]])
            if start + k + ahead < job.count:
                if t < net.panels:
                    prefetch_example(job.X, train.order[start + k + ahead])
                if (k + ahead) % train.mbs % T == t:     # the thread that will read it (step 2)
                    prefetch_target(job, train.order[start + k + ahead])
        cnet_barrier(&job.team)
        if job.interrupted:     # all steps so far are done: stop here, all threads
            break
        k = t
        while k < m:
            e = train.order[start + k]
            finish_forward(net, act + k * W)
            backward(net, act + k * W, job.Y + e * job.n_out, job.cost, train.delta + k * W)
            k += T
        if cnet_arrive(&job.team):
            scale_decay(net, train.decay)
            cnet_release(&job.team)
        # the next mini-batch's input sums with this step's update of the packed input layer, when it can be
        # (fusable), into the other half of act
        next_m = min(train.mbs, job.count - start - m)
        summed = fusable(&step, m, next_m)
        if not summed:
            next_m = 0
        q = t
        while q < net.panels:
            step_layer(net, net.packed, job.X, train.order + start, m, act, train.delta, &step,
                       q, T, train.nabla_b + net.packed.out, train.order + start + m, next_m,
                       job.act + ((batch + 1) % 2) * train.mbs * W)
            q += T
        for l in range(net.n_layers):
            # part t of the rows of another layer that is worth sharing, the last thread a small one
            layer = &net.layer[l]
            if layer.packed_input:
                continue
            parts = T if layer.n_in * layer.stored >= SHARED_STEP_MIN else 1
            if parts == T or t == T - 1:
                step_layer(net, layer, job.X, train.order + start, m, act, train.delta, &step,
                           t + parts - T, parts, train.nabla_b + layer.out, NULL, 0, NULL)
        start += m
        batch += 1
    if job.interrupted and step.mu != 0 and batch > 0:
        # the last step's pass over every weight prepared a step that was not taken
        q = t
        while q < net.panels and not step.lazy:
            undo_prepare(net, net.packed, q, &step)
            q += T
        if t == T - 1:
            for l in range(net.n_layers):
                if not net.layer[l].packed_input:
                    undo_prepare(net, &net.layer[l], 0, &step)
    q = t
    while q < net.panels and step.lazy:
        if train.powers != NULL:
            catch_up_all_scaled(net, q, train.stamp + q * 3 * net.packed.n_in, <int> batch,
                                <int> batch + job.interrupted, train.powers, train.period)
        else:
            catch_up_all(net, q, train.stamp + q * 3 * net.packed.n_in, <int> batch, train.maps, train.steps,
                         &step)
        q += T
    cnet_barrier(&job.team)     # none returns while another may still write a parameter
