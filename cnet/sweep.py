"""Hyperparameter sweeps: many ``network2`` trainings, on every core or on a Dask cluster.

A *configuration* is a plain dict naming one training run::

    {"sizes": [784, 30, 10], "eta": 3.0, "lmbda": 0.0, "epochs": 30, "seed": 0}

Its keys are the sweep's own -- ``sizes``, ``cost`` (by name), ``epochs``,
``n_train`` (the first N training images; None for all), ``evaluate_on``
("test" or "validation") and ``seed`` -- and the parameters of
``network2.Network(...)`` and ``Network.SGD(...)``, read from their
signatures, so an option added to those is a configuration key at once.  A
*grid* is a dict of lists; ``grid()`` expands it to the list of its
configurations (the cartesian product).

``run(configurations, out="runs.jsonl")`` trains a fresh
``network2.Network(sizes, seed=seed)`` for each configuration, with the
evaluation cost and accuracy monitored every epoch, and returns one *record*
per configuration: a plain dict holding the configuration, the monitors per
epoch (a cost that is not finite, in a run that diverged, is None: JSON has
no NaN), the best epoch, the seconds taken, cnet's version and the backend.
A run whose weights overflow to NaN, so that network2 stops it, is recorded
with its ``error`` and no monitors, and the sweep goes on.
Each record is appended to ``out`` as one JSON line as soon as its run ends;
running the same sweep again with the same file skips the runs already there
(a half-written last line, left by a killed process, is dropped and redone).

Runs go to ``n_jobs`` processes through joblib (``pip install joblib``),
each training on one thread and loading the data once; inside
``joblib.parallel_config(backend="dask")`` with a ``dask.distributed.Client``
they go to the Dask cluster instead.  Where a run trains does not change its
numbers: serial, joblib and Dask records are the same, bit for bit, apart
from ``seconds`` and ``machine``.
"""
import contextlib
import io
import math
import os
import socket
import time

import numpy as np

from cnet import mnist_loader, network2
# the names of the two modules a sweep is made of, all part of this one's interface
from cnet._sweep_config import (DEFAULTS, EVALUATE_ON, RESERVED, _arguments, check, grid,  # noqa: F401
                                keys, normalize, parameters)
from cnet._sweep_results import (FORMAT, METRICS, VOLATILE, _append, _writable, identity, read,  # noqa: F401
                                 same, summarize, table)

# ------------------------------------------------------------ one run

_DATA = {}    # per process: data directory -> (training, validation, test); loaded once
_LOADS = [0]  # how many times this process has read MNIST


def _data(data_dir):
    """MNIST as lists of pairs (``mnist_loader.load_data_wrapper``), loaded the first
    time this process needs it and kept for its later runs."""
    key = (data_dir, os.environ.get("CNET_DATA_DIR"))
    if key not in _DATA:
        _DATA[key] = mnist_loader.load_data_wrapper(data_dir)
        _LOADS[0] += 1
    return _DATA[key]


def train(config, data_dir=None):
    """The record of one run of the (normalized) configuration ``config``: it trains
    a fresh network on one thread, on the first ``n_train`` training images,
    monitoring cost and accuracy on the test or validation images each epoch."""
    import cnet
    training, validation, test = _data(data_dir)
    evaluation = test if config["evaluate_on"] == "test" else validation
    n = config["n_train"]
    if n is not None and n > len(training):
        raise ValueError("configuration {}: n_train is {}, but there are only {} training "
                         "images".format(identity(config), n, len(training)))
    data = training[:n]                 # a fresh list: SGD shuffles it in place
    init, sgd = _arguments(config)
    net = network2.Network(num_threads=1, **init)
    started = time.perf_counter()
    error = None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            monitors = net.SGD(data, evaluation_data=evaluation, monitor_evaluation_cost=True,
                               monitor_evaluation_accuracy=True, **sgd)
    except ValueError as exc:           # the values were checked: the weights overflowed to NaN
        monitors, error = ([], [], [], []), str(exc)
    seconds = time.perf_counter() - started
    record = {"format": FORMAT, "config": config, "n_train": len(data), "n_evaluation": len(evaluation)}
    if error is not None:
        record["error"] = error
    for name, values in zip(("evaluation_cost", "evaluation_accuracy", "training_cost", "training_accuracy"),
                            monitors):
        record[name] = [_cost(v) if name.endswith("cost") else int(v) for v in values]
    accuracy = record["evaluation_accuracy"]
    best = int(np.argmax(accuracy)) if accuracy else None
    record.update({"epochs_run": len(accuracy), "best_epoch": best,
                   "best_accuracy": accuracy[best] if accuracy else None,
                   "final_accuracy": accuracy[-1] if accuracy else None,
                   "cnet_version": cnet.__version__, "backend": net.backend,
                   "seconds": seconds,
                   "machine": {"host": socket.gethostname(), "pid": os.getpid(),
                               "isa": getattr(net._kernels, "ISA", None),
                               "data_loads": _LOADS[0]}})
    return record


def _cost(value):
    """A monitored cost as JSON holds it: a float, or None when it is not finite
    (a run that diverged, as at η = 100)."""
    value = float(value)
    return value if math.isfinite(value) else None


# ------------------------------------------------------------ the sweep

def _data_sizes(data_dir):
    """How many training, validation and test images the data has (reads it once)."""
    training, validation, test = mnist_loader.load_data(data_dir)
    return {"train": len(training[0]), "validation": len(validation[0]), "test": len(test[0])}


def run(configurations, out=None, n_jobs=None, data_dir=None, progress=False, on_record=None,
        on_start=None):
    """Run every configuration not yet in ``out``; return all their records.

    ``configurations``: a grid (dict of lists) or a list of configurations.
    ``out``: a JSON-lines file the records are appended to as each run ends,
    and read at the start to skip the runs already done (None: no file).
    ``n_jobs``: processes (joblib; default all cores; 1 trains here, without
    joblib); inside ``joblib.parallel_config(backend="dask")`` the Dask
    cluster's workers.  ``data_dir``: where MNIST is (see ``cnet.datasets``).
    ``progress``: a bar over runs on stderr.  ``on_record(record, done)`` is
    called as each record arrives (``done`` True for one read from ``out``);
    ``on_start(to_run, already_done)`` once the checks have passed.

    Returns the records in the order of the configurations.  Everything --
    the configurations, the data, the output file -- is checked before the
    first run starts.
    """
    configs = check(configurations)
    if n_jobs == 1:                     # the data this process will train on anyway
        sizes = dict(zip(("train", "validation", "test"), map(len, _data(data_dir))))
    else:
        sizes = _data_sizes(data_dir)
    for config in configs:
        if config["n_train"] is not None and config["n_train"] > sizes["train"]:
            raise ValueError("configuration {}: n_train is {}, but there are only {} training "
                             "images".format(identity(config), config["n_train"], sizes["train"]))
        if sizes[config["evaluate_on"]] == 0:
            raise ValueError("configuration {}: there are no {} images to evaluate on".format(
                identity(config), config["evaluate_on"]))
    done = {}
    if out is not None:
        _writable(out)
        wanted = {identity(c) for c in configs}
        for record in read(out, repair=True):
            key = identity(record["config"])
            if key in wanted and key not in done:
                done[key] = record
    todo = [c for c in configs if identity(c) not in done]
    if on_record:
        for c in configs:
            if identity(c) in done:
                on_record(done[identity(c)], True)
    results = dict(done)
    if on_start:
        on_start(len(todo), len(configs) - len(todo))
    update, close = _bar(len(todo), progress)
    try:
        for record in _execute(todo, n_jobs, data_dir):
            key = identity(record["config"])
            results[key] = record
            if out is not None:
                _append(out, record)
            update(1)
            if on_record:
                on_record(record, False)
    finally:
        close()
    return [results[identity(c)] for c in configs]


def _bar(total, progress):
    if not progress or not total:
        return (lambda n: None), (lambda: None)
    from cnet._progress import progress_bar
    return progress_bar(total, "sweep", unit="run")


def _execute(configs, n_jobs, data_dir):
    """The records of the runs of ``configs``, in the order they finish."""
    if not configs:
        return
    if n_jobs == 1:
        for config in configs:
            yield train(config, data_dir)
        return
    try:
        from joblib import Parallel, delayed
    except ImportError:
        processes = n_jobs if n_jobs else "all"
        raise RuntimeError("running on {} processes needs joblib: pip install joblib (or, in cnet's source "
                           "tree, pip install '.[sweep]'; or n_jobs=1)".format(processes)) from None
    parallel = Parallel(n_jobs=-1 if n_jobs is None else n_jobs, return_as="generator_unordered")
    yield from parallel(delayed(train)(config, data_dir) for config in configs)
