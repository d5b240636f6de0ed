"""`cnet sweep`: train network2 on every combination of the values given, on every core or a Dask cluster."""
import argparse
import contextlib
import json
import time

from cnet.cli import options

# train's options (their argparse names) -> the configuration key each sets, in the order
# the grid varies them (the first slowest)
KEYS = {"sizes": "sizes", "epochs": "epochs", "mini_batch_size": "mini_batch_size", "eta": "eta",
        "lmbda": "lmbda", "seed": "seed", "limit": "n_train", "cost": "cost", "evaluate_on": "evaluate_on",
        "dtype": "dtype", "backend": "backend", "early_stopping": "early_stopping_n",
        "activation": "activation", "regularization": "regularization", "mu": "mu",
        "eta_schedule": "eta_schedule_n"}
# --monitor's values -> the configuration key each turns on (the evaluation cost is always recorded)
MONITOR_KEYS = {"training-cost": "monitor_training_cost", "training-accuracy": "monitor_training_accuracy"}


def add_parser(subparsers):
    p = subparsers.add_parser("sweep", help="train a grid of configurations, on every core or a Dask cluster",
                              description="Train network2 on every combination of the values given (each "
                              "of train's options takes a list), append one JSON line per run to --out as "
                              "it ends, and print a table. Run again with the same --out to finish an "
                              "interrupted sweep.")
    options.add_training_options(p, lists=True)
    # the sweep's spelling before it took train's --monitor
    p.add_argument("--monitor-training", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--param", nargs="+", action="append", metavar=("NAME", "VALUE"),
                   help="any other option of network2.Network or its SGD, with its values "
                        "(as JSON when they parse, else strings); repeatable")
    p.add_argument("--jobs", type=options.positive(int), default=None, metavar="N",
                   help="processes (default: all cores; with --scheduler, all the cluster's workers)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster of this scheduler (e.g. tcp://host:8786)")
    p.add_argument("--out", metavar="FILE", help="results file (JSON lines); runs already in it are skipped")
    options.add_data_dir(p)
    p.set_defaults(run=run)


def _json_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def grid(args):
    """The grid that the sweep's options describe (a dict of lists)."""
    axes = {key: getattr(args, dest) for dest, key in KEYS.items() if getattr(args, dest) is not None}
    monitor = set(args.monitor) | (set(MONITOR_KEYS) if args.monitor_training else set())
    axes.update({MONITOR_KEYS[m]: [True] for m in sorted(monitor) if m in MONITOR_KEYS})
    for name, *values in args.param or []:
        if name in axes:
            raise ValueError("--param {} repeats a key already given".format(name))
        if not values:
            raise ValueError("--param {} needs at least one value".format(name))
        axes[name] = [_json_value(v) for v in values]
    return axes


def run(args):
    from cnet import sweep

    axes = grid(args)
    where = "all cores" if args.jobs is None else "{} process{}".format(args.jobs, "es" if args.jobs > 1 else "")
    started = time.perf_counter()

    def on_start(to_run, done):
        print("cnet sweep: {} runs{}{}".format(
            to_run + done, ", {} already in {}".format(done, args.out) if done else "",
            "" if not to_run else ", on " + (where if not args.scheduler else "the Dask cluster at " +
                                             args.scheduler)), flush=True)

    with _cluster(args.scheduler):
        records = sweep.run(axes, out=args.out, n_jobs=args.jobs, data_dir=args.data_dir,
                            progress=True, on_start=on_start)
    print(sweep.table(records))
    print("{:.1f} s{}".format(time.perf_counter() - started,
                              "; records in {}".format(args.out) if args.out else ""))


class _cluster:
    """Inside: joblib's runs go to the Dask scheduler at ``address`` (nothing when None)."""

    def __init__(self, address):
        self.address, self.stack = address, None

    def __enter__(self):
        if self.address is None:
            return self
        try:
            import joblib
            from dask.distributed import Client
        except ImportError:
            raise RuntimeError("--scheduler needs Dask: pip install 'dask[distributed]' joblib") from None
        self.stack = contextlib.ExitStack()
        try:
            self.stack.enter_context(Client(self.address))   # waits distributed.comm.timeouts.connect
        except (OSError, TimeoutError) as exc:
            raise RuntimeError("cannot reach the Dask scheduler at {}: {}".format(self.address, exc)) from None
        self.stack.enter_context(joblib.parallel_config(backend="dask"))
        return self

    def __exit__(self, *exc):
        if self.stack is not None:
            self.stack.close()
