# Scanning: one forward pass over all the rows of X (scan_part), or over the caller's
# columns, packing them a block at a time as it goes (columns_part): each row's label
# (argmax a_L) and the sum of the costs, the threads taking blocks of rows from a
# counter (cnet_take) -- the same bits whatever their number.
from cnet._kernels.alloc cimport cnet_free
from cnet._kernels.real cimport real_t
from cnet._kernels.team cimport cnet_take


cdef enum:
    SCAN_BLOCK = 256    # rows whose costs are summed together, in order
    SCAN_GROUP = 16     # scan_rows: examples whose input sums are computed together
    COLUMNS_BLOCK = 512     # columns_part: the rows a thread takes at a time
    COLUMNS_ROOM = 256      # columns_part: room for the entries of this many dense inputs


cdef struct ScanJob:
    # one forward pass over the rows (scan_part, columns_part)
    Job job             # (first: a ScanJob's address is its Job's)
    Py_ssize_t *labels  # NULL: no labels
    double *partial     # ⌈count / SCAN_BLOCK⌉ sums of costs
    const Column *columns   # columns_part: the inputs, where the caller's arrays hold them;
    Py_ssize_t *first_bad   # for each thread, the first of its examples whose input is not finite;
    Py_ssize_t *buffer      # and its compressed rows of up to COLUMNS_BLOCK examples (block_buffer_size)


cdef class ScanWork(Work):
    cdef ScanJob scan

    def __cinit__(self):
        self.job = &self.scan.job

    def __dealloc__(self):
        cnet_free(self.scan.partial)
        cnet_free(self.scan.first_bad)
        cnet_free(self.scan.buffer)


cdef double scan_rows(const ScanJob *scan, const Rows *X, Py_ssize_t first, Py_ssize_t e0, Py_ssize_t e1,
                      real_t *act) noexcept nogil:
    # Rows first … first + e1 − e0 − 1 of X, examples e0 … e1 − 1: labels[e] = argmax_j a_L[j]
    # (the first maximum) when labels are asked for; returns Σ_e cost.fn(a_L, y_e) when Y
    # is given (else 0), summed in order of e.  The examples go SCAN_GROUP at a time through
    # the packed input layer's rows (input_sums: the same bits as one at a time), example k's outputs in
    # act + k · width.  Labels alone with a sigmoid output: z_L and sigmoid_argmax, which
    # computes only the σ(z_L[j]) that can be the maximum -- the same labels.
    cdef const Job *job = &scan.job
    cdef const Net *net = job.net
    cdef const Layer *output = net.output
    cdef Py_ssize_t e, q, j, k, g, l, best, n_out = output.n_out, last = first + e1 - e0
    cdef Py_ssize_t W = net.width
    cdef real_t *a
    cdef double total = 0.0
    cdef bint labels_only = job.Y == NULL and scan.labels != NULL and output.activation == SIGMOID
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
                for l in range(net.n_layers):
                    forward_layer(net, &net.layer[l], act + k * W, l < net.n_layers - 1)
                scan.labels[e + k] = sigmoid_argmax(a, n_out)
                continue
            finish_forward(net, act + k * W)
            if job.Y != NULL:
                total += cost_value(a, job.Y + (e + k) * n_out, n_out, job.cost)
            if scan.labels != NULL:
                best = 0
                for j in range(1, n_out):
                    if a[j] > a[best]:
                        best = j
                scan.labels[e + k] = best
        e += g
    return total


cdef void scan_part(Job *job, int t) noexcept nogil:
    # The blocks of rows that thread t takes (cnet_take), b: partial[b] = Σ_{e in block b}
    # cost.fn(a_L, y_e) when Y is given, and labels[e] when asked for (scan_rows)
    cdef ScanJob *scan = <ScanJob *> job
    cdef Py_ssize_t b, e0
    cdef Py_ssize_t blocks = (job.count + SCAN_BLOCK - 1) // SCAN_BLOCK
    b = cnet_take(&job.team)
    while b < blocks:
        e0 = b * SCAN_BLOCK
        scan.partial[b] = scan_rows(scan, job.X, e0, e0, min(job.count, e0 + SCAN_BLOCK),
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
    cdef ScanJob *scan = <ScanJob *> job
    cdef Py_ssize_t n_in = job.net.packed.n_in, b, e, e0, e1, s
    cdef Py_ssize_t blocks = (job.count + COLUMNS_BLOCK - 1) // COLUMNS_BLOCK
    cdef Py_ssize_t room = block_room(n_in)
    cdef Py_ssize_t *start = scan.buffer + t * block_buffer_size(n_in)
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
                scan_rows(scan, &X, 0, s, e, act)     # full: scanned, and begun again
                s = e
            finite = 1
            start[e - s + 1] = pack_entries(&scan.columns[e], n_in, index, value, start[e - s], &finite)
            if not finite and e < scan.first_bad[t]:
                scan.first_bad[t] = e
        scan_rows(scan, &X, 0, s, e1, act)
        b = cnet_take(&job.team)
