"""The command line: ``python -m cnet train``, ``evaluate FILE``, ``predict NET IMAGE...``,
``sweep ...``, ``plot FILE`` and ``info``.

``train`` trains the book's chapter-1 network on MNIST (default [784, 30, 10],
30 epochs, mini-batch 10, eta 3.0), printing each epoch's test accuracy and
time; chapter 3's options (--cost, --activation, --lmbda, --regularization,
--mu, --eta-schedule, --early-stopping, --evaluate-on, --monitor) change it.
``evaluate`` prints the test accuracy of a network saved with ``--save`` or
``network2``'s ``save``; ``info`` prints ``cnet.info()``, which kernels this
installation runs, for bug reports.
"""
import argparse
import json
import sys
import time

from cnet import _kernels, datasets, mnist_loader, network, network2
from cnet._engine import EtaSchedule
from cnet._progress import progress_bar

COSTS = {"quadratic": network2.QuadraticCost, "cross-entropy": network2.CrossEntropyCost,
         "log-likelihood": network2.LogLikelihoodCost}
MONITORS = ("training-cost", "training-accuracy", "evaluation-cost")


def _sizes(text):
    try:
        sizes = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected layer widths such as 784,30,10, got {!r}".format(text)) from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError("expected at least two positive widths, got {!r}".format(text))
    return sizes


def _number(kind, zero_allowed):
    """An argparse type: a finite ``kind`` (int or float) > 0, or >= 0 when ``zero_allowed``."""
    expected = "a {} >= 0".format(kind.__name__) if zero_allowed else "a positive {}".format(kind.__name__)

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected {}, got {!r}".format(expected, text)) from None
        if not (value >= 0 if zero_allowed else value > 0) or value == float("inf"):
            raise argparse.ArgumentTypeError("expected {}, got {!r}".format(expected, text))
        return value
    return parse


def _positive(kind):
    return _number(kind, zero_allowed=False)


def _at_least_zero(kind):
    return _number(kind, zero_allowed=True)


def _momentum(text):
    value = _at_least_zero(float)(text)
    if value >= 1:
        raise argparse.ArgumentTypeError("expected a number in [0, 1), got {!r}".format(text))
    return value


def parser():
    p = argparse.ArgumentParser(prog="cnet", description="Train and evaluate the networks of "
                                "'Neural Networks and Deep Learning' on MNIST, compiled.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a network on MNIST (the book's chapter 1 defaults)")
    t.add_argument("--sizes", type=_sizes, default=[784, 30, 10], help="layer widths (default 784,30,10)")
    t.add_argument("--epochs", type=_positive(int), default=30, help="default 30")
    t.add_argument("--mini-batch-size", type=_positive(int), default=10, help="default 10")
    t.add_argument("--eta", type=_positive(float), default=3.0, help="learning rate (default 3.0)")
    t.add_argument("--seed", type=int, default=None,
                   help="seed the initialisation and shuffles (numpy.random.default_rng)")
    t.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="precision of the arithmetic (float32: faster, not bit-faithful to the book)")
    t.add_argument("--threads", type=_positive(int), default=None, metavar="N",
                   help="threads to train on (default: $CNET_NUM_THREADS, else 1); "
                        "the same results for any N")
    t.add_argument("--limit", type=_positive(int), default=None,
                   help="use only the first N training and test images")
    t.add_argument("--save", metavar="FILE", help="save the trained network as JSON (network2's format)")
    c3 = t.add_argument_group("chapter 3 (each off by default: the chapter-1 run)")
    c3.add_argument("--cost", choices=list(COSTS), default="quadratic",
                    help="quadratic (default; the chapter-1 network and initialisation), cross-entropy, "
                         "or log-likelihood (a softmax output layer); the last two are network2's "
                         "networks, weights initialised N(0, 1/n_in)")
    c3.add_argument("--activation", choices=["sigmoid", "tanh", "relu"], default="sigmoid",
                    help="the hidden layers' neurons (default sigmoid)")
    c3.add_argument("--lmbda", type=_at_least_zero(float), default=0.0,
                    help="regularisation strength lambda (default 0)")
    c3.add_argument("--regularization", choices=["L2", "L1"], default="L2", help="default L2")
    c3.add_argument("--mu", type=_momentum, default=0.0,
                    help="momentum coefficient in [0, 1) (default 0: plain SGD)")
    c3.add_argument("--eta-schedule", type=_at_least_zero(int), default=0, metavar="N",
                    help="halve eta whenever the evaluation accuracy has not improved for N epochs; "
                         "stop at eta/128 (default 0: off)")
    c3.add_argument("--early-stopping", type=_at_least_zero(int), default=0, metavar="N",
                    help="stop when the evaluation accuracy has not improved for N epochs (default 0: off)")
    c3.add_argument("--evaluate-on", choices=["test", "validation"], default="test",
                    help="the images each epoch is evaluated on (default test)")
    c3.add_argument("--monitor", choices=MONITORS, action="append", default=[],
                    help="also print this each epoch (repeatable)")
    for q in (t, sub.add_parser("evaluate", help="print a saved network's accuracy on the test images")):
        q.add_argument("--backend", choices=_kernels.BACKENDS, default=None,
                       help="kernels to run (default: $CNET_BACKEND, else the compiled ones)")
        q.add_argument("--data-dir", metavar="DIR", default=None,
                       help="where MNIST is (default: $CNET_DATA_DIR, the cache, else fetch it)")
    sub.choices["evaluate"].add_argument("file", metavar="FILE", help="a network saved as JSON")
    _predict_parser(sub)
    sweep_parser(sub)
    plot_parser(sub)
    i = sub.add_parser("info", help="print which kernels this installation runs, for bug reports")
    i.add_argument("--json", action="store_true", help="print it as JSON")
    i.set_defaults(handler=info)
    return p


def _chapter3(args):
    """The chapter-3 options that differ from the chapter-1 run, as words for the header."""
    words = []
    if args.cost != "quadratic":
        words.append(args.cost + " cost")
    if args.activation != "sigmoid":
        words.append(args.activation + " hidden layers")
    if args.lmbda:
        words.append("{} lmbda {}".format(args.regularization, args.lmbda))
    if args.mu:
        words.append("mu {}".format(args.mu))
    if args.eta_schedule:
        words.append("eta halved after {} epochs without improvement".format(args.eta_schedule))
    if args.early_stopping:
        words.append("early stopping after {}".format(args.early_stopping))
    return "".join(", " + w for w in words)


def train(args):
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper(args.data_dir)
    evaluation_data = validation_data if args.evaluate_on == "validation" else test_data
    if args.limit:
        training_data, evaluation_data = training_data[:args.limit], evaluation_data[:args.limit]
    if args.sizes[0] != 784 or args.sizes[-1] != 10:
        raise ValueError("--sizes must start with 784 (the pixels) and end with 10 (the digits)")
    if args.cost == "quadratic":
        # the chapter-1 network: its N(0, 1) initialisation, draw for draw
        net = network.Network(args.sizes, seed=args.seed, backend=args.backend, dtype=args.dtype,
                              num_threads=args.threads)
        net.activation = args.activation
    else:
        net = network2.Network(args.sizes, cost=COSTS[args.cost], seed=args.seed, backend=args.backend,
                               dtype=args.dtype, num_threads=args.threads, activation=args.activation)
    isa = getattr(_kernels.get(net.backend, net.dtype), "ISA", None)
    print("cnet: {} on {} training images, {} epoch{}, mini-batch {}, eta {}{}; {} kernels ({}{}){}".format(
        args.sizes, len(training_data), args.epochs, "s" if args.epochs != 1 else "",
        args.mini_batch_size, args.eta, _chapter3(args), net.backend, args.dtype,
        ", " + isa if isa else "", ", {} threads".format(net.num_threads) if net.num_threads > 1 else ""))
    name = args.evaluate_on + "_data"
    count_correct = net.correct_counter(evaluation_data, name)
    monitors = _monitors(net, args, training_data, evaluation_data, name)
    schedule = EtaSchedule(args.eta, args.eta_schedule) if args.eta_schedule else None
    best = {"accuracy": 1, "epochs_without_change": 0}
    bar = {}
    started = [0.0]

    def progress(done, total):
        if done == 0:
            started[0] = time.perf_counter()  # the epoch's time starts here, after loading
        if "update" not in bar:
            bar["update"], bar["close"] = progress_bar(total, "epoch", unit="img")
        bar["update"](done - bar.get("done", 0))
        bar["done"] = done

    def report(j):
        if "close" in bar:
            bar.pop("close")()
            bar.clear()
        seconds = time.perf_counter() - started[0]
        correct = count_correct()
        print("Epoch {}: {} / {} ({:.2f}%)  {:.2f} s{}".format(
            j, correct, len(evaluation_data), 100.0 * correct / len(evaluation_data), seconds,
            "  eta {}".format(schedule.eta) if schedule else ""), flush=True)
        for line in monitors():
            print(line, flush=True)
        if args.early_stopping:
            # the book's rule: stop once the accuracy has not improved for N epochs
            if correct > best["accuracy"]:
                best["accuracy"], best["epochs_without_change"] = correct, 0
            else:
                best["epochs_without_change"] += 1
            if best["epochs_without_change"] == args.early_stopping:
                return False
        if schedule:
            eta = schedule.after_epoch(correct)
            return False if eta is None else eta
        return None

    steps = 100 if sys.stderr.isatty() else 1  # a bar needs steps; without one, one call an epoch
    net.train_epochs(training_data, args.epochs, args.mini_batch_size, args.eta, args.lmbda, report,
                     progress, steps, mu=args.mu, regularization=args.regularization)
    if args.save:
        net.save(args.save)
        print("saved to {}".format(args.save))


def _monitors(net, args, training_data, evaluation_data, name):
    """A function of no arguments giving the lines of the --monitor values asked for,
    in network2's words and order."""
    if not args.monitor:
        return lambda: []
    wanted = set(args.monitor)

    def lines():
        out = []
        if "training-cost" in wanted:
            out.append("Cost on training data: {}".format(
                net.total_cost(training_data, args.lmbda, regularization=args.regularization)))
        if "training-accuracy" in wanted:
            out.append("Accuracy on training data: {} / {}".format(
                network2.Network.accuracy(net, training_data, convert=True), len(training_data)))
        if "evaluation-cost" in wanted:
            out.append("Cost on evaluation data: {}".format(
                net.total_cost(evaluation_data, args.lmbda, convert=True,
                               regularization=args.regularization)))
        return out
    return lines


def evaluate(args):
    net = network2.load(args.file)
    if args.backend:
        net = _with_backend(net, args.backend)
    _, _, test_data = mnist_loader.load_data_wrapper(args.data_dir)
    correct = net.accuracy(test_data)
    print("{}: {} / {} ({:.2f}%) of the test images".format(
        args.file, correct, len(test_data), 100.0 * correct / len(test_data)))


def _with_backend(net, backend):
    other = network2.Network(net.sizes, cost=net.cost, backend=backend, activation=net.activation)
    other.weights, other.biases = net.weights, net.biases
    return other


def _predict_parser(sub):
    q = sub.add_parser("predict", help="the digit in each of your images, by a saved network")
    q.add_argument("file", metavar="NET", help="a network saved as JSON (784 inputs)")
    q.add_argument("images", metavar="IMAGE", nargs="+", help="image files, one digit each")
    q.add_argument("--show", action="store_true",
                   help="write what the network saw, 28x28, next to each image as IMAGE.mnist.png")
    q.add_argument("--show-dir", metavar="DIR", default=None,
                   help="with --show (implied): write the 28x28 inputs into DIR instead")
    q.add_argument("--backend", choices=_kernels.BACKENDS, default=None,
                   help="kernels to run (default: $CNET_BACKEND, else the compiled ones)")
    q.set_defaults(handler=predict)


def predict(args):
    """``predict``: print the digit a saved network sees in each image, and its three
    best scores (``cnet.images``, which needs Pillow); return 1 if any image failed."""
    try:
        from cnet import images
    except ImportError as exc:
        raise RuntimeError(str(exc)) from None
    net = network2.load(args.file)
    if args.backend:
        net = _with_backend(net, args.backend)
    if net.sizes[0] != images.SIDE * images.SIDE:
        raise ValueError("{}: the network takes {} inputs; an image becomes 784 (28 x 28), so "
                         "predict needs a network of sizes [784, ..., 10]".format(args.file, net.sizes[0]))
    kind = "probabilities" if net._softmax_output() else "scores"
    failed = 0
    for path in args.images:
        try:
            x = images.to_mnist(path)
            scores = net.predict_proba(x)[:, 0]
            best = sorted(range(len(scores)), key=lambda j: -scores[j])[:3]
            print("{}: {}   {} {}".format(path, best[0], kind,
                                          "  ".join("{} {:.3f}".format(j, scores[j]) for j in best)))
            if args.show or args.show_dir:
                shown = _shown_path(path, args.show_dir)
                images.write_png(x, shown)
                print("  saw: {}".format(shown))
        except (ValueError, OSError) as exc:     # this image; the others still run
            print("cnet: error: {}".format(exc), file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _shown_path(path, directory):
    """Where ``--show`` writes the 28 x 28 input for ``path``: IMAGE.mnist.png, beside
    it or in ``directory``."""
    import os
    name = os.path.basename(path) + ".mnist.png"
    if directory:
        os.makedirs(directory, exist_ok=True)
        return os.path.join(directory, name)
    return path + ".mnist.png"


def info(args):
    """``info``: print ``cnet.info()``, one key a line (``--json``: as JSON)."""
    import cnet
    facts = cnet.info()
    if args.json:
        print(json.dumps(facts, indent=2))
        return
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        if isinstance(value, dict):
            value = ", ".join("{}={}".format(k, v) for k, v in value.items()) or "-"
        print("{:<{}}  {}".format(key, width, value))


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        # each subcommand's handler returns its exit status (None: 0)
        handler = getattr(args, "handler", None) or (train if args.command == "train" else evaluate)
        status = handler(args)
    except (datasets.DataNotFound, ValueError, TypeError, OSError, RuntimeError) as exc:
        print("cnet: error: {}".format(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cnet: interrupted", file=sys.stderr)
        return 130
    return status or 0


# ------------------------------------------------------------ sweep

# option → configuration key, for the options that take a list of values
SWEEP_LISTS = (("sizes", "sizes"), ("epochs", "epochs"), ("mini_batch_size", "mini_batch_size"),
               ("eta", "eta"), ("lmbda", "lmbda"), ("seeds", "seed"), ("n_train", "n_train"),
               ("cost", "cost"), ("evaluate_on", "evaluate_on"), ("dtype", "dtype"),
               ("backend", "backend"), ("early_stopping_n", "early_stopping_n"))


def _non_negative(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = -1
        if not value >= 0 or value == float("inf"):
            raise argparse.ArgumentTypeError("expected a {} >= 0, got {!r}".format(kind.__name__, text))
        return value
    return parse


def sweep_parser(sub):
    s = sub.add_parser("sweep", help="train a grid of configurations, on every core or a Dask cluster",
                       description="Train network2 on every combination of the values given (each "
                       "option takes a list), append one JSON line per run to --out as it ends, and "
                       "print a table. Run again with the same --out to finish an interrupted sweep.")
    s.add_argument("--sizes", type=_sizes, nargs="+", help="layer widths, e.g. 784,15,10 784,30,10 "
                   "(default 784,30,10)")
    s.add_argument("--epochs", type=_positive(int), nargs="+", help="default 30")
    s.add_argument("--mini-batch-size", type=_positive(int), nargs="+", help="default 10")
    s.add_argument("--eta", type=_positive(float), nargs="+", help="learning rates (default 3.0)")
    s.add_argument("--lmbda", type=_non_negative(float), nargs="+", help="L2 regularisation (default 0)")
    s.add_argument("--seeds", "--seed", type=_non_negative(int), nargs="+", help="default 0")
    s.add_argument("--n-train", "--limit", type=_positive(int), nargs="+", metavar="N",
                   help="train on the first N training images (default all 50,000)")
    s.add_argument("--cost", nargs="+", help="CrossEntropyCost (default) or QuadraticCost")
    s.add_argument("--evaluate-on", choices=["test", "validation"], nargs="+",
                   help="the images monitored each epoch (default test)")
    s.add_argument("--dtype", choices=["float64", "float32"], nargs="+")
    s.add_argument("--backend", choices=_kernels.BACKENDS, nargs="+")
    s.add_argument("--early-stopping-n", type=_non_negative(int), nargs="+")
    s.add_argument("--monitor-training", action="store_true",
                   help="also record the cost and accuracy on the training images each epoch")
    s.add_argument("--param", nargs="+", action="append", metavar=("NAME", "VALUE"),
                   help="any other option of network2.Network or its SGD, with its values "
                        "(as JSON when they parse, else strings); repeatable")
    s.add_argument("--jobs", type=_positive(int), default=None, metavar="N",
                   help="processes (default: all cores; with --scheduler, all the cluster's workers)")
    s.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster of this scheduler (e.g. tcp://host:8786)")
    s.add_argument("--out", metavar="FILE", help="results file (JSON lines); runs already in it are skipped")
    s.add_argument("--data-dir", metavar="DIR", default=None,
                   help="where MNIST is (default: $CNET_DATA_DIR, the cache, else fetch it)")
    s.set_defaults(handler=sweep_command)


def _json_value(text):
    import json
    try:
        return json.loads(text)
    except ValueError:
        return text


def sweep_grid(args):
    """The grid that the sweep options describe (a dict of lists)."""
    axes = {key: getattr(args, option) for option, key in SWEEP_LISTS if getattr(args, option) is not None}
    if args.monitor_training:
        axes.update(monitor_training_accuracy=[True], monitor_training_cost=[True])
    for name, *values in args.param or []:
        if name in axes:
            raise ValueError("--param {} repeats a key already given".format(name))
        if not values:
            raise ValueError("--param {} needs at least one value".format(name))
        axes[name] = [_json_value(v) for v in values]
    return axes


def sweep_command(args):
    from cnet import sweep

    axes = sweep_grid(args)
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
        import contextlib
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


# ------------------------------------------------------------ plot

def plot_parser(sub):
    q = sub.add_parser("plot", help="draw a sweep's results, or a saved network's weights and "
                       "confusion matrix (needs matplotlib)",
                       description="FILE is a sweep's results (JSON lines): one panel per configuration "
                       "of the keys not drawn as lines, one line per value of --by (default: the "
                       "learning rate eta), the median over seeds of --metric per epoch. Or FILE is a "
                       "network saved as JSON: its first layer's weights as 28x28 images and its "
                       "confusion matrix on the test images.")
    q.add_argument("file", metavar="FILE", help="a sweep's results file, or a saved network")
    q.add_argument("--out", metavar="FIG", help="the figure's file, .png or .svg (default: FILE's "
                   "name with .png)")
    q.add_argument("--by", default="eta", metavar="KEY", help="the configuration key whose values are "
                   "the lines (default eta)")
    q.add_argument("--metric", default="evaluation_accuracy",
                   choices=["evaluation_accuracy", "evaluation_cost", "training_accuracy", "training_cost",
                            "overfitting"],
                   help="what to draw per epoch; overfitting: training against evaluation accuracy")
    q.add_argument("--data-dir", metavar="DIR", default=None,
                   help="where MNIST is, for a network's confusion matrix")
    q.set_defaults(handler=plot_command)


def plot_command(args):
    try:
        from cnet import plot
    except ImportError as exc:
        raise RuntimeError(str(exc)) from None
    out = args.out or (args.file.rsplit(".", 1)[0] if "." in args.file else args.file) + ".png"
    if plot.is_network(args.file):
        net = network2.load(args.file)
        _, _, test_data = mnist_loader.load_data_wrapper(args.data_dir)
        fig = plot.network_figure(net, test_data)
    else:
        from cnet import sweep
        records = sweep.read(args.file)
        if not records:
            raise ValueError("{}: no records to plot".format(args.file))
        fig = plot.sweep_figure(records, metric=args.metric, by=args.by)
    plot.save(fig, out)
    print("wrote {}".format(out))


if __name__ == "__main__":
    sys.exit(main())
