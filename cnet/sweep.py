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
import inspect
import io
import itertools
import json
import math
import os
import socket
import statistics
import time

import numpy as np

from cnet import mnist_loader, network2

FORMAT = "cnet-sweep/1"

# the sweep's own keys, and the values a configuration gets when it does not name them
DEFAULTS = {"sizes": [784, 30, 10], "cost": "CrossEntropyCost", "epochs": 30, "mini_batch_size": 10,
            "eta": 3.0, "n_train": None, "evaluate_on": "test", "seed": 0}
EVALUATE_ON = ("test", "validation")
# parameters of Network / SGD that the sweep itself sets
RESERVED = {"self", "training_data", "evaluation_data", "monitor_evaluation_cost",
            "monitor_evaluation_accuracy", "num_threads"}
COST_ALIASES = {"cross-entropy": "CrossEntropyCost", "crossentropy": "CrossEntropyCost",
                "quadratic": "QuadraticCost"}
# fields of a record that depend on where and when it ran, not on its configuration
VOLATILE = ("seconds", "machine")
METRICS = ("evaluation_accuracy", "evaluation_cost", "training_accuracy", "training_cost")


# ------------------------------------------------------------ configurations

def parameters():
    """``(init, sgd)``: the names of the parameters of ``network2.Network(...)`` and of
    ``Network.SGD(...)`` that a configuration may set, each mapped to its default
    (``inspect.Parameter.empty`` when it has none)."""
    def named(function):
        return {name: p.default for name, p in inspect.signature(function).parameters.items()
                if name not in RESERVED and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return named(network2.Network.__init__), named(network2.Network.SGD)


def keys():
    """Every key a configuration may hold, sorted."""
    init, sgd = parameters()
    return sorted(set(DEFAULTS) | set(init) | set(sgd))


def grid(**axes):
    """The configurations of a grid: one for each combination of the values listed
    for each key (the cartesian product, first key slowest).

    A value that is not a list is one value (``sizes=[784, 30, 10]`` is one
    network; ``sizes=[[784, 15, 10], [784, 30, 10]]`` is two).  ``seeds=`` is
    another name for ``seed=``.  An empty list is a ``ValueError``: it would
    make the grid empty.
    """
    if "seeds" in axes:
        if "seed" in axes:
            raise ValueError("grid: give seed= or seeds=, not both")
        axes["seed"] = axes.pop("seeds")
    names, values = [], []
    for name, value in axes.items():
        if name == "sizes" and isinstance(value, (list, tuple)) and value \
                and not isinstance(value[0], (list, tuple)):
            value = [value]
        elif not isinstance(value, (list, tuple, range)):
            value = [value]
        if len(value) == 0:
            raise ValueError("grid: {!r} has no values, so the grid is empty".format(name))
        names.append(name)
        values.append(list(value))
    return [dict(zip(names, combination)) for combination in itertools.product(*values)]


def _plain(name, value):
    """``value`` as JSON-ready Python (lists, not tuples or arrays; Python numbers)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_plain(name, v) for v in value]
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name                    # dtype=np.float32 → "float32"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("configuration key {!r}: {} is not a finite number".format(name, value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError("configuration key {!r}: {!r} is not a plain value (a number, a string, a list "
                     "or None), so it cannot be recorded".format(name, value))


def _cost_name(value):
    if isinstance(value, str):
        return COST_ALIASES.get(value.lower(), value)
    if inspect.isclass(value) or hasattr(value, "fn"):  # a cost class, or an instance of one
        cls = value if inspect.isclass(value) else type(value)
        if network2.COSTS.get(cls.__name__) is cls:
            return cls.__name__
    raise ValueError("configuration key 'cost': {!r} is not a cost cnet can record; expected one of "
                     "{}".format(value, ", ".join(sorted(network2.COSTS))))


def normalize(config):
    """The configuration ``config`` in its canonical form: unknown keys refused
    (``ValueError`` naming them), the sweep's own keys filled in from
    ``DEFAULTS``, the cost by name, numbers as JSON holds them, and every other
    key left out when it equals its default in ``network2`` -- so that two
    configurations that train the same run are equal dicts."""
    if not isinstance(config, dict):
        raise TypeError("a configuration must be a dict, got {!r}".format(config))
    init, sgd = parameters()
    signature = dict(init, **sgd)
    allowed = set(DEFAULTS) | set(signature)
    unknown = sorted(set(config) - allowed)
    if unknown:
        reserved = [k for k in unknown if k in RESERVED]
        if reserved:
            raise ValueError("configuration key {!r} is set by the sweep itself, not by a "
                             "configuration".format(reserved[0]))
        raise ValueError("unknown configuration key{} {}; expected some of: {}".format(
            "s" if len(unknown) > 1 else "", ", ".join(map(repr, unknown)), ", ".join(keys())))
    out = dict(DEFAULTS)
    for name, value in config.items():
        value = _cost_name(value) if name == "cost" else _plain(name, value)
        if name == "eta" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        default = signature.get(name, inspect.Parameter.empty)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)                       # lmbda=5 is lmbda=5.0
        if name not in DEFAULTS and default is not inspect.Parameter.empty and _same(value, default):
            out.pop(name, None)                         # a default is not part of a run's identity
            continue
        out[name] = value
    _check_own_keys(out)
    return out


def _same(value, default):
    """Whether ``value`` is the parameter's ``default`` (as recorded: np.float64 is "float64")."""
    try:
        default = _plain("", default)
    except ValueError:
        return False
    return type(value) is type(default) and value == default or (
        isinstance(value, (int, float)) and not isinstance(value, bool)
        and isinstance(default, (int, float)) and not isinstance(default, bool) and value == default)


def _check_own_keys(config):
    sizes = config["sizes"]
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)):
        raise ValueError("configuration key 'sizes': expected a list of at least two positive "
                         "widths such as [784, 30, 10], got {!r}".format(sizes))
    if sizes[0] != 784 or sizes[-1] != 10:
        raise ValueError("configuration key 'sizes': {} must start with 784 (the pixels) and end "
                         "with 10 (the digits)".format(sizes))
    for name in ("epochs", "seed"):
        v = config[name]
        if not isinstance(v, int) or isinstance(v, bool) or v < (1 if name == "epochs" else 0):
            raise ValueError("configuration key {!r}: expected an integer >= {}, got {!r}".format(
                name, 1 if name == "epochs" else 0, v))
    n = config["n_train"]
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError("configuration key 'n_train': expected a positive integer or None "
                         "(all the training images), got {!r}".format(n))
    if config["evaluate_on"] not in EVALUATE_ON:
        raise ValueError("configuration key 'evaluate_on': expected one of {}, got {!r}".format(
            EVALUATE_ON, config["evaluate_on"]))


def identity(config):
    """The canonical JSON of a normalized configuration: what identifies a run."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _arguments(config):
    """``(init, sgd)``: the keyword arguments of ``network2.Network`` and of its ``SGD``
    for a normalized configuration."""
    init_names, sgd_names = parameters()
    init = {k: v for k, v in config.items() if k in init_names}
    sgd = {k: v for k, v in config.items() if k in sgd_names}
    init["cost"] = network2.COSTS.get(config["cost"], config["cost"])
    init["seed"] = config["seed"]
    return init, sgd


def _dry_run(config):
    """Build the configuration's network and call its SGD for 0 epochs on one blank
    example: network2 checks every value, and nothing trains."""
    init, sgd = _arguments(config)
    try:
        net = network2.Network(num_threads=1, **init)
        x = np.zeros((config["sizes"][0], 1))
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD([(x, network2.vectorized_result(0))], **dict(sgd, epochs=0),
                    evaluation_data=[(x, 0)], monitor_evaluation_accuracy=True,
                    monitor_evaluation_cost=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        hint = ""
        if isinstance(init["cost"], str):
            hint = " (known costs: {})".format(", ".join(sorted(network2.COSTS)))
        raise ValueError("configuration {}: {}{}".format(identity(config), exc, hint)) from None


def check(configurations):
    """The configurations, normalized and checked by network2 itself, without
    duplicates, in their order; a ``ValueError`` for the first that is wrong, or
    for an empty list."""
    if isinstance(configurations, dict):
        configurations = grid(**configurations)
    configurations = list(configurations)
    if not configurations:
        raise ValueError("no configurations: the sweep is empty")
    seen, out = set(), []
    for config in configurations:
        config = normalize(config)
        key = identity(config)
        if key not in seen:
            seen.add(key)
            _dry_run(config)
            out.append(config)
    return out


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


def same(a, b):
    """Whether two records hold the same run and the same numbers (everything but
    the fields in ``VOLATILE``)."""
    def strip(r):
        return {k: v for k, v in r.items() if k not in VOLATILE}
    return strip(a) == strip(b)


# ------------------------------------------------------------ the results file

def read(path, repair=False):
    """The records in the results file ``path`` (none if it does not exist), in
    file order.

    A last line without its newline is what a killed sweep leaves: it is
    skipped (and cut off the file when ``repair`` is true), to be run again.
    Any other line that is not a record of this format is a ``ValueError``:
    the file is something else, and nothing is written to it.
    """
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    tail = lines.pop()                 # what follows the last newline: b"" or a half-written line
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ValueError("{}: line {} is not JSON; not a cnet sweep results file".format(
                path, number)) from None
        if not (isinstance(obj, dict) and obj.get("format") == FORMAT and isinstance(obj.get("config"), dict)):
            found = obj.get("format") if isinstance(obj, dict) else None
            raise ValueError("{}: line {} is not a cnet sweep record (expected a JSON object with "
                             "\"format\": \"{}\"{}); not a cnet sweep results file".format(
                                 path, number, FORMAT, ", found {!r}".format(found) if found else ""))
        records.append(obj)
    if tail.strip():
        start = _PREFIX[:len(tail)]
        if not tail.startswith(_PREFIX) and tail != start:
            raise ValueError("{}: line {} is not a cnet sweep record; not a cnet sweep results "
                             "file".format(path, len(lines) + 1))
        if repair:
            with open(path, "r+b") as f:
                f.truncate(len(raw) - len(tail))
    return records


_PREFIX = json.dumps({"format": FORMAT})[:-1].encode()   # how every record's line starts


def _writable(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError("cannot write {}: no directory {}".format(path, directory))
    if os.path.isdir(path):
        raise ValueError("cannot write {}: it is a directory".format(path))
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise ValueError("cannot write {}: {}".format(path, exc.strerror or exc)) from None


def _append(path, record):
    line = json.dumps(record, allow_nan=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


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


# ------------------------------------------------------------ summaries

def _percent(record, count):
    return 100.0 * count / record["n_evaluation"]


def summarize(records):
    """One row per configuration (seeds pooled), in order of first appearance: a dict
    with ``config`` (without ``seed``), ``seeds``, and the median and spread
    (max − min) over seeds of the final and the best evaluation accuracy, in
    percent, and of the seconds per run."""
    groups = {}
    for r in records:
        config = {k: v for k, v in r["config"].items() if k != "seed"}
        groups.setdefault(identity(config), (config, []))[1].append(r)
    rows = []
    for config, rs in groups.values():
        final = [_percent(r, r["final_accuracy"]) for r in rs if r["final_accuracy"] is not None]
        best = [_percent(r, r["best_accuracy"]) for r in rs if r["best_accuracy"] is not None]
        seconds = [r["seconds"] for r in rs]
        rows.append({"config": config, "seeds": [r["config"]["seed"] for r in rs],
                     "final_median": statistics.median(final) if final else None,
                     "final_spread": max(final) - min(final) if final else None,
                     "best_median": statistics.median(best) if best else None,
                     "best_spread": max(best) - min(best) if best else None,
                     "seconds_median": statistics.median(seconds)})
    return rows


def _show(value):
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if value is None:
        return "all"
    return "{:g}".format(value) if isinstance(value, float) else str(value)


def table(records):
    """The summary of ``records`` as text: a line with what all runs share, then a
    row per configuration with the keys that vary."""
    rows = summarize(records)
    if not rows:
        return "no runs"
    names = []
    for row in rows:
        names += [k for k in row["config"] if k not in names]
    varying = [k for k in names if len({_show(r["config"].get(k, "-")) for r in rows}) > 1]
    shared = [k for k in names if k not in varying]
    lines = ["all runs: " + ", ".join("{} {}".format(k, _show(rows[0]["config"][k])) for k in shared)]
    head = [k for k in varying] + ["seeds", "final accuracy %", "best accuracy %", "s/run"]
    body = []
    for r in rows:
        def pair(m, s):
            return "-" if m is None else "{:6.2f} ±{:.2f}".format(m, s / 2)
        body.append([_show(r["config"].get(k, "-")) for k in varying]
                    + [str(len(r["seeds"])), pair(r["final_median"], r["final_spread"]),
                       pair(r["best_median"], r["best_spread"]), "{:.2f}".format(r["seconds_median"])])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)).rstrip() for b in body]
    lines.append("accuracy on the {} images: median over seeds ± half its range (max − min)".format(
        "/".join(sorted({r["config"]["evaluate_on"] for r in rows}))))
    return "\n".join(lines)

