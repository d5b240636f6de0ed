# Threads.  A call can share its work among T threads (num_threads): Python
# threads that each run the same nogil part with their own t, meeting at a
# barrier (team.h).  Every weight and every sum is computed by exactly one
# thread, in the same order as with one thread, so the results are the same
# bits whatever T is.
#
# A Job is one call's work; its `part` says what thread t does of it: train_part
# (SGD over mini-batches), scan_part (one forward pass over all the rows) or
# columns_part (the same over the caller's columns, packing them as it goes).
# run_on_threads runs a Job's part on up to T threads and waits for them.
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
    Part part           # what thread t does: part(job, t)
    cnet_team team
    Net *net
    const Rows *X
    const double *Y     # desired outputs, n_out a row (scanning: NULL for no costs)
    Py_ssize_t n_out
    int cost
    Py_ssize_t count    # training: the length of order; scanning: the rows of X
    real_t *act         # training: 2 · mbs rows of `width` (a mini-batch's activations,
    #                     the next's); scanning: a row of `width` for each thread
    # training
    const Py_ssize_t *order
    Py_ssize_t mbs
    real_t eta, decay   # decay: 1 − ηλ/n for the lazy scale (1: the step applies the penalty)
    real_t mu, penalty  # Step's: momentum, and ηλ/n for L1 or with momentum
    bint l1
    const real_t *maps  # momentum with L2 (or none, μ < 2^−7.5): the maps of catch_up
    Py_ssize_t steps    # (else NULL), for up to `steps` steps;
    const real_t *powers    # or without a penalty: the μ^k and g_k of catch_up_scaled (else NULL),
    Py_ssize_t period       # k = 0 … period;
    int *stamp          # and where each row of each panel of wt_0 is (panels × 3 n[0]: catch_up)
    real_t *delta       # mbs rows of `width`: the errors
    real_t *nabla_b     # width: ∇b of every layer (at off[l])
    # scanning
    Py_ssize_t *labels  # NULL: no labels
    double *partial     # ⌈count / SCAN_BLOCK⌉ sums of costs
    const Column *columns   # columns_part: the inputs, where the caller's arrays hold them;
    Py_ssize_t *first_bad   # for each thread, the first of its examples whose input is not finite;
    Py_ssize_t *buffer      # and its compressed rows of up to COLUMNS_BLOCK examples (block_buffer_size)
    # signals (training)
    int check_signals   # 1: thread 0 runs Python's signal handlers (it is the main thread)
    double next_check   # when next, in cnet_seconds()
    int interrupted     # set by thread 0 before a barrier: all stop after it
    PyObject *error     # the exception a handler raised (a reference), or NULL


cdef class Work:
    # A Job and what it points into, alive as long as any of its threads
    cdef Job job
    cdef Rows rows
    cdef object keep

    def __dealloc__(self):
        cnet_free(self.job.act)
        cnet_free(self.job.delta)
        cnet_free(self.job.nabla_b)
        cnet_free(self.job.partial)
        cnet_free(self.job.first_bad)
        cnet_free(self.job.buffer)
        Py_XDECREF(self.job.error)


def threads_supported():
    """True when this build can share a call among several threads."""
    return bool(CNET_THREADS)


def _thread(Work w, int t):
    with nogil:
        if cnet_join(&w.job.team, t):
            w.job.part(&w.job, t)


cdef void run_on_threads(Work w, Py_ssize_t wanted) except *:
    # w.job.part(&w.job, t) for t = 0 … T − 1, t = 0 on this thread and the others
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
        w.job.part(&w.job, 0)
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
    SHARED_STEP_MIN = 2048      # weights of a layer ≥ 1 whose step the threads share


cdef void train_part(Job *job, int t) noexcept nogil:
    # Thread t's part of SGD over the mini-batches order[0:mbs], order[mbs:2·mbs], …
    # (the last may be shorter).  Layer 0 -- nearly all the work -- is split by the
    # neurons of layer 1: thread t owns the panels q ≡ t mod T of wt_0 (each its own
    # block of memory, so that threads never share a cache line) and those columns
    # of b_0.  Per mini-batch:
    #   1. z_1 on those columns, for the mini-batch's examples together (input_sums);
    #   2. (after all threads) the rest of the forward pass and δ of examples k ≡ t mod T;
    #   3. (after all) the step of layer 0 on those panels, and of part t of the rows of
    #      each layer ≥ 1 of SHARED_STEP_MIN weights or more (its biases: the last thread's;
    #      a smaller layer: all of it by the last thread, whose weights the others then need
    #      not take over from their caches).
    # Without momentum, 3 does 1 for the next mini-batch too, each block of wt_0's rows
    # read for its sums right after its update (step_layer), while it is in L1.
    cdef Net *net = job.net
    cdef Py_ssize_t T = job.team.n, W = net.width, start = 0, m, k, e, l, q, batch = 0, ahead, next_m, parts
    cdef bint summed = False     # whether this mini-batch's z_1 is computed already
    cdef real_t *act
    cdef Layer *layer
    cdef Step step
    step.mu = job.mu
    step.penalty = job.penalty
    step.l1 = job.l1
    step.lazy = job.maps != NULL or job.powers != NULL
    step.sigma = 1
    # how far ahead examples are prefetched: the next mini-batch, whole, asked for right
    # after this one's z_1 (input_sums reads all of a mini-batch's entries at once, block
    # by block of wt_0's rows -- at the start of its step, or fused into this step's
    # update -- and so does catch_up at the start of its step; the asks then overlap the
    # barrier and backward instead of delaying z_1)
    ahead = job.mbs
    while start < job.count:
        if t == 0 and job.check_signals and cnet_seconds() >= job.next_check:
            job.interrupted = signal_raised(job)
            job.next_check = cnet_seconds() + CHECK_SECONDS
        m = job.mbs if job.count - start > job.mbs else job.count - start
        step.c = job.eta / m
        step.first = start == 0
        step.last = start + m >= job.count
        # the other half of act from the last mini-batch's, which the last thread may still be reading
        act = job.act + (batch % 2) * job.mbs * W
        if step.lazy:
            q = t
            while q < net.panels:
                if job.powers != NULL:
                    catch_up_scaled(net, job.X, job.order + start, m, q, job.stamp + q * 3 * net.packed.n_in,
                                    batch + 1, job.powers, job.period)
                else:
                    catch_up(net, job.X, job.order + start, m, q, job.stamp + q * 3 * net.packed.n_in,
                             batch + 1, job.maps, job.steps)
                q += T
            if job.powers != NULL:
                step.sigma = job.powers[batch + 1 - fold_base(batch + 1, job.period)]
        q = t
        while q < net.panels and not summed:     # (else the last step computed them)
            input_sums(net, job.X, job.order + start, m, q, act, W)
            q += T
        for k in range(m):
            if start + k + 2 * ahead < job.count and t < net.panels:
                # where the example after that starts, which prefetch_example will read
                cnet_prefetch(&job.X.start[job.order[start + k + 2 * ahead]])
            if start + k + ahead < job.count:
                if t < net.panels:
                    prefetch_example(job.X, job.order[start + k + ahead])
                if (k + ahead) % job.mbs % T == t:     # the thread that will read it (step 2)
                    prefetch_target(job, job.order[start + k + ahead])
        cnet_barrier(&job.team)
        if job.interrupted:     # all steps so far are done: stop here, all threads
            break
        k = t
        while k < m:
            e = job.order[start + k]
            finish_forward(net, act + k * W)
            backward(net, act + k * W, job.Y + e * job.n_out, job.cost, job.delta + k * W)
            k += T
        if cnet_arrive(&job.team):
            scale_decay(net, job.decay)
            cnet_release(&job.team)
        # the next mini-batch's z_1 with this step's update of layer 0, when it can be
        # (fusable), into the other half of act
        next_m = min(job.mbs, job.count - start - m)
        summed = fusable(&step, m, next_m)
        if not summed:
            next_m = 0
        q = t
        while q < net.panels:
            step_layer(net, net.packed, job.X, job.order + start, m, act, job.delta, &step,
                       q, T, job.nabla_b + net.packed.out, job.order + start + m, next_m,
                       job.act + ((batch + 1) % 2) * job.mbs * W)
            q += T
        for l in range(net.L):
            # part t of the rows of another layer that is worth sharing, the last thread a small one
            layer = &net.layer[l]
            if layer.packed_input:
                continue
            parts = T if layer.n_in * layer.stored >= SHARED_STEP_MIN else 1
            if parts == T or t == T - 1:
                step_layer(net, layer, job.X, job.order + start, m, act, job.delta, &step,
                           t + parts - T, parts, job.nabla_b + layer.out, NULL, 0, NULL)
        start += m
        batch += 1
    if job.interrupted and step.mu != 0 and batch > 0:
        # the last step's pass over every weight prepared a step that was not taken
        q = t
        while q < net.panels and not step.lazy:
            undo_prepare(net, net.packed, q, &step)
            q += T
        if t == T - 1:
            for l in range(net.L):
                if not net.layer[l].packed_input:
                    undo_prepare(net, &net.layer[l], 0, &step)
    q = t
    while q < net.panels and step.lazy:
        if job.powers != NULL:
            catch_up_all_scaled(net, q, job.stamp + q * 3 * net.packed.n_in, <int> batch,
                                <int> batch + job.interrupted, job.powers, job.period)
        else:
            catch_up_all(net, q, job.stamp + q * 3 * net.packed.n_in, <int> batch, job.maps, job.steps,
                         &step)
        q += T
    cnet_barrier(&job.team)     # none returns while another may still write a parameter


cdef enum:
    SCAN_BLOCK = 256    # rows whose costs are summed together, in order
    SCAN_GROUP = 16     # scan_rows, labels alone: examples whose z_1 are summed together
    COLUMNS_BLOCK = 512     # columns_part: the rows a thread takes at a time
    COLUMNS_ROOM = 256      # columns_part: room for the entries of this many dense inputs


cdef double scan_rows(const Job *job, const Rows *X, Py_ssize_t first, Py_ssize_t e0, Py_ssize_t e1,
                      real_t *act) noexcept nogil:
    # Rows first … first + e1 − e0 − 1 of X, examples e0 … e1 − 1: labels[e] = argmax_j a_L[j]
    # (the first maximum) when labels are asked for; returns Σ_e cost.fn(a_L, y_e) when Y
    # is given (else 0), summed in order of e.  The examples go SCAN_GROUP at a time through
    # wt_0's rows (input_sums: the same bits as one at a time), example k's activations in
    # act + k · width.  Labels alone with a sigmoid output: z_L and sigmoid_argmax, which
    # computes only the σ(z_L[j]) that can be the maximum -- the same labels.
    cdef const Net *net = job.net
    cdef const Layer *output = &net.layer[net.L - 1]
    cdef Py_ssize_t e, q, j, k, g, l, best, n_out = output.n_out, last = first + e1 - e0
    cdef Py_ssize_t W = net.width
    cdef real_t *a
    cdef double total = 0.0
    cdef bint labels_only = job.Y == NULL and job.labels != NULL and output.activation == SIGMOID
    cdef Py_ssize_t rows[SCAN_GROUP]
    e = e0
    while e < e1:
        g = min(<Py_ssize_t> SCAN_GROUP, e1 - e)
        for k in range(g):
            rows[k] = first + e - e0 + k
            if rows[k] + SCAN_GROUP < last:
                prefetch_example(X, rows[k] + SCAN_GROUP)
        for q in range(net.panels):
            input_sums(net, X, rows, g, q, act, W)
        for k in range(g):
            a = act + k * W + output.out
            if labels_only:
                for l in range(net.L):
                    forward_layer(net, &net.layer[l], act + k * W, l < net.L - 1)
                job.labels[e + k] = sigmoid_argmax(a, n_out)
                continue
            finish_forward(net, act + k * W)
            if job.Y != NULL:
                total += cost_value(a, job.Y + (e + k) * n_out, n_out, job.cost)
            if job.labels != NULL:
                best = 0
                for j in range(1, n_out):
                    if a[j] > a[best]:
                        best = j
                job.labels[e + k] = best
        e += g
    return total


cdef void scan_part(Job *job, int t) noexcept nogil:
    # The blocks of rows that thread t takes (cnet_take), b: partial[b] = Σ_{e in block b}
    # cost.fn(a_L, y_e) when Y is given, and labels[e] when asked for (scan_rows)
    cdef Py_ssize_t b, e0
    cdef Py_ssize_t blocks = (job.count + SCAN_BLOCK - 1) // SCAN_BLOCK
    b = cnet_take(&job.team)
    while b < blocks:
        e0 = b * SCAN_BLOCK
        job.partial[b] = scan_rows(job, job.X, e0, e0, min(job.count, e0 + SCAN_BLOCK),
                                   job.act + t * SCAN_GROUP * job.net.width)
        b = cnet_take(&job.team)


cdef inline Py_ssize_t block_room(Py_ssize_t n_in) noexcept nogil:
    # the entries that one thread's compressed rows in columns_part hold: COLUMNS_ROOM
    # dense inputs' (a block of sparse ones, such as MNIST's, fits at once)
    return COLUMNS_ROOM * n_in + PACK_SLACK


cdef inline Py_ssize_t block_buffer_size(Py_ssize_t n_in) noexcept nogil:
    # the Py_ssize_t-s of one thread's compressed rows in columns_part: COLUMNS_BLOCK + 1
    # starts, then block_room indices and values, a whole number of lines
    cdef Py_ssize_t room = block_room(n_in)
    cdef Py_ssize_t bytes = (COLUMNS_BLOCK + 1) * sizeof(Py_ssize_t) + (room + 1) * sizeof(int) + room * sizeof(real_t)
    return (bytes + 63) // 64 * 8


cdef void columns_part(Job *job, int t) noexcept nogil:
    # scan_part over the caller's columns (labels only): each block of COLUMNS_BLOCK rows
    # that thread t takes, packed into its own compressed rows (pack_entries), then
    # scanned (scan_rows) while they are in its cache -- in parts, when they fill the
    # rows' room first -- with no packed copy of all the inputs to write to memory and
    # read back; first_bad[t] ← the first of its examples whose input is not finite
    # (left alone if none)
    cdef Py_ssize_t n_in = job.net.packed.n_in, b, e, e0, e1, s
    cdef Py_ssize_t blocks = (job.count + COLUMNS_BLOCK - 1) // COLUMNS_BLOCK
    cdef Py_ssize_t room = block_room(n_in)
    cdef Py_ssize_t *start = job.buffer + t * block_buffer_size(n_in)
    cdef int *index = <int *> (start + COLUMNS_BLOCK + 1)
    cdef real_t *value = <real_t *> (index + room + (room & 1))     # (8-byte aligned)
    cdef real_t *act = job.act + t * SCAN_GROUP * job.net.width
    cdef Rows X
    cdef int finite
    X.start, X.index, X.value = start, index, value
    start[0] = 0
    b = cnet_take(&job.team)
    while b < blocks:
        e0 = b * COLUMNS_BLOCK
        e1 = min(job.count, e0 + COLUMNS_BLOCK)
        s = e0          # the first example in the rows (row 0)
        for e in range(e0, e1):
            if start[e - s] + n_in + PACK_SLACK > room:
                scan_rows(job, &X, 0, s, e, act)     # full: scanned, and begun again
                s = e
            finite = 1
            start[e - s + 1] = pack_entries(&job.columns[e], n_in, index, value, start[e - s], &finite)
            if not finite and e < job.first_bad[t]:
                job.first_bad[t] = e
        scan_rows(job, &X, 0, s, e1, act)
        b = cnet_take(&job.team)
