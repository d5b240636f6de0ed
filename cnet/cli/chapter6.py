"""`cnet chapter6 NAME`: an experiment of the book's conv.py, run as the book runs it, with a table at the end."""
import os
import sys

from cnet import chapter6
from cnet._progress import progress_bar
from cnet.cli import options


def add_parser(subparsers):
    p = subparsers.add_parser(
        "chapter6", help="run an experiment of the book's conv.py (chapter 6) by its name",
        description="Run an experiment of the book's conv.py by its function's name, with the book's "
        "settings (mini-batch 10, its eta, lambda and epochs; 50,000 training images, or the expanded "
        "250,000), printing network3's lines, then a table: each run's best validation accuracy, its "
        "test accuracy and wall time (and for double_fc_dropout, the vote of its nets). Run j seeds "
        "numpy.random (the initial weights) and the dropout masks with SEED + j.",
        epilog="The experiments: " + ", ".join(chapter6.EXPERIMENTS) + " (cnet chapter6 --list shows "
        "their layers). expanded_data, expanded_data_double_fc and double_fc_dropout train on "
        "mnist_expanded.pkl.gz: make it once with `cnet expand-mnist`.")
    p.add_argument("name", metavar="NAME", nargs="?", help="the experiment: conv.py's function name")
    p.add_argument("--list", action="store_true", help="name each experiment with its layers and settings")
    p.add_argument("--runs", type=options.positive(int), default=None, metavar="N",
                   help="repetitions (default conv.py's: 3, and 5 for double_fc_dropout)")
    p.add_argument("--epochs", type=options.positive(int), default=None,
                   help="default the book's: 60, and 40 for double_fc_dropout")
    p.add_argument("--n", type=options.positive(int), default=None,
                   help="the width of the FC layers of expanded_data and expanded_data_double_fc "
                        "(default 100; the book also tries 300 and 1000)")
    p.add_argument("--seed", type=options.at_least_zero(int), default=0,
                   help="run j uses seed SEED + j (default 0)")
    p.add_argument("--threads", type=options.positive(int), default=None, metavar="N",
                   help="threads to train on (default: $CNET_NUM_THREADS, else 1); the same results for any N")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="network3.floatX (default float32, as the book's GPU = True sets Theano's)")
    p.add_argument("--save", metavar="DIR_OR_PREFIX", default=None,
                   help="save each run's net (network3's JSON): into DIR as NAME-J.json when DIR is a "
                        "directory (or ends in /), else as PREFIX-J.json")
    p.add_argument("--limit", type=options.positive(int), default=None, metavar="N",
                   help="use only the first N training, validation and test images (quick tries)")
    options.add_backend(p)
    options.add_data_dir(p, "where MNIST (and mnist_expanded.pkl.gz) is")
    p.set_defaults(run=run)


def list_text():
    """The lines of ``--list``: each experiment, its settings and its layers."""
    lines = []
    for e in chapter6.EXPERIMENTS.values():
        lines.append("{}: {}".format(e.name, e.summary))
        lines.append("    eta {:g}, lambda {:g}, {} epochs, mini-batch {}, {} runs; {} training images{}".format(
            e.eta, e.lmbda, e.epochs, chapter6.MINI_BATCH_SIZE, e.runs,
            "the expanded 250,000" if e.expanded else "50,000",
            "; --n {} (default)".format(e.n) if e.n else ""))
        lines.append("    " + chapter6.describe(chapter6.layer_specs(e.name)))
    return lines


def save_path(target, name, j):
    """Where ``--save TARGET`` puts run ``j``'s net: TARGET/NAME-J.json for a directory, else TARGET-J.json."""
    if os.path.isdir(target) or target.endswith(("/", os.sep)):
        return os.path.join(target, "{}-{}.json".format(name, j))
    return "{}-{}.json".format(target, j)


def run(args):
    if args.list:
        print("\n".join(list_text()))
        return 0
    if args.name is None:
        raise ValueError("name an experiment: one of {} (or --list)".format(", ".join(chapter6.EXPERIMENTS)))
    experiment = chapter6._experiment(args.name)       # an unknown name: a ValueError naming the known
    if args.n is not None and experiment.n is None:
        raise ValueError("--n: {} has no FC width to choose (expanded_data and expanded_data_double_fc "
                         "do)".format(args.name))
    if args.limit is not None and args.limit < chapter6.MINI_BATCH_SIZE:
        raise ValueError("--limit {}: fewer images than one mini-batch of {}".format(
            args.limit, chapter6.MINI_BATCH_SIZE))
    if args.save:
        options.check_output_file(save_path(args.save, args.name, 0), "--save")
    from cnet import network3
    network3.floatX = args.dtype
    data = chapter6.load_data(experiment.expanded, args.data_dir, args.limit, args.dtype)
    runs = experiment.runs if args.runs is None else args.runs
    epochs = experiment.epochs if args.epochs is None else args.epochs
    specs = chapter6.layer_specs(args.name, args.n)
    print("cnet: {} ({} run{}): {}; {:,} training images, {} epochs, mini-batch {}, eta {:g}, lambda {:g}, "
          "{}".format(args.name, runs, "s" if runs != 1 else "", chapter6.describe(specs),
                      len(data[0][0]), epochs, chapter6.MINI_BATCH_SIZE, experiment.eta, experiment.lmbda,
                      args.dtype), flush=True)

    def save(j, net):
        path = save_path(args.save, args.name, j)
        net.save(path)
        print("saved to {}".format(path), flush=True)

    results, _, vote = chapter6.run(args.name, data, runs=runs, epochs=epochs, seed=args.seed, n=args.n,
                                    num_threads=args.threads, backend=args.backend,
                                    save=save if args.save else None, watch=_watch,
                                    log=lambda line: print(line, flush=True))
    print("\n".join(table(args.name, results, vote)), flush=True)
    return 0


def table(name, results, vote=None):
    """The closing table's lines: per run its seed, best validation accuracy, that
    epoch's test accuracy and wall time; the vote's accuracy when there is one."""
    lines = ["", "{}: best validation accuracy per run, and the test accuracy at that epoch".format(name),
             "{:>4} {:>5} {:>11} {:>8} {:>10}".format("run", "seed", "validation", "test", "time (s)")]
    for r in results:
        lines.append("{:>4} {:>5} {:>11} {:>8} {:>10.2f}".format(r.run, r.seed, _percent(r.best_validation),
                                                                 _percent(r.test), r.seconds))
    if vote is not None:
        lines.append("vote of the {} nets on the test images: {}".format(len(results), _percent(vote)))
    return lines


def _percent(value):
    return "-" if value is None or value != value else "{:.2%}".format(value)


def _watch(net, batches):
    """Show a progress bar over each epoch's images while ``net`` trains (on a terminal
    or in a notebook; nothing elsewhere), wrapping the network's step and validation:
    the bar is taken down before network3 prints a line (each 1000th mini-batch, each
    epoch's end) and put back after it."""
    bar = {"steps": 0, "done": 0}
    step, measure = net._step, net._batch_accuracy
    total = batches * chapter6.MINI_BATCH_SIZE

    def take_down():
        if "close" in bar:
            bar.pop("close")()
            del bar["update"]

    def counted_step(*a, **k):
        if "update" not in bar:
            bar["update"], bar["close"] = progress_bar(total, "epoch", unit="img")
            bar["update"](bar["done"])
        out = step(*a, **k)
        bar["update"](chapter6.MINI_BATCH_SIZE)
        bar["steps"] += 1
        bar["done"] += chapter6.MINI_BATCH_SIZE
        if bar["steps"] % 1000 == 0:      # "Training mini-batch number ..." comes next
            take_down()
        return out

    def closing_measure(*a, **k):
        take_down()
        bar["done"] = 0
        sys.stdout.flush()
        return measure(*a, **k)

    net._step, net._batch_accuracy = counted_step, closing_measure
