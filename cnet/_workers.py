"""network3's threads: a call's parts run at once, the first on the calling
thread and the others on worker threads kept for the process (one pool per
thread count).  The parts release the GIL in the kernels and in NumPy's loops,
so that they run side by side; each part writes only its own results, so the
results do not depend on how many threads there are.
"""
import concurrent.futures
import threading

_pools = {}
_lock = threading.Lock()


def _pool(workers):
    """The process's ThreadPoolExecutor of ``workers`` threads (made on first use)."""
    with _lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="cnet-network3")
        return pool


def run(function, parts):
    """``[function(*part) for part in parts]``, the parts at once: parts[0] here, the
    rest on worker threads.  Every part has finished when this returns or raises;
    an exception a part raised is raised again (the first part's first)."""
    parts = list(parts)
    if len(parts) <= 1:
        return [function(*part) for part in parts]
    futures = [_pool(len(parts) - 1).submit(function, *part) for part in parts[1:]]
    try:
        first = function(*parts[0])
    finally:
        concurrent.futures.wait(futures)
    return [first] + [future.result() for future in futures]


def spans(n, parts):
    """``parts`` contiguous ranges (start, stop) covering 0 … n − 1 in order, their
    lengths differing by at most one (as many as there are items, if fewer)."""
    parts = max(1, min(int(parts), n))
    return [(n * j // parts, n * (j + 1) // parts) for j in range(parts)]
