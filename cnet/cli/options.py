"""What the subcommands share: argument types, the training options of train and sweep, checks of files and sizes."""
import argparse
import os

from cnet import _kernels
from cnet.functions import ACTIVATIONS, COST_NAMES, cost_by_name

# what an MNIST network must take and give: the pixels of a 28 x 28 image, and the ten digits
MNIST_INPUTS, MNIST_OUTPUTS = 784, 10
MONITORS = ("training-cost", "training-accuracy", "evaluation-cost")


# ------------------------------------------------------------ argument types

def sizes(text):
    """An argparse type: layer widths separated by commas ("784,30,10"), at least two."""
    try:
        widths = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        widths = None
    if not widths or len(widths) < 2 or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            "expected at least two positive layer widths separated by commas, such as 784,30,10 "
            "(one argument, no spaces), got {!r}".format(text))
    return widths


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


def positive(kind):
    return _number(kind, zero_allowed=False)


def at_least_zero(kind):
    return _number(kind, zero_allowed=True)


def momentum(text):
    """An argparse type: a momentum coefficient in [0, 1)."""
    value = at_least_zero(float)(text)
    if value >= 1:
        raise argparse.ArgumentTypeError("expected a number in [0, 1), got {!r}".format(text))
    return value


def cost(text):
    """An argparse type: a built-in cost by any of its names, as its command-line name
    ("CrossEntropyCost" and "cross-entropy" are both "cross-entropy")."""
    try:
        cls = cost_by_name(text)
    except ValueError:
        raise argparse.ArgumentTypeError("unknown cost {!r}; expected one of {}".format(
            text, ", ".join(COST_NAMES))) from None
    return next(name for name, c in COST_NAMES.items() if c is cls)


# ------------------------------------------------------------ the training options

class Option:
    """One training option: its flags (the first is its name, the others hidden aliases),
    train's default, its help (``sweep_help``: the sweep's, where it differs), and the
    rest of argparse's keywords."""

    def __init__(self, flags, default, help, sweep_help=None, **keywords):
        self.flags, self.default, self.help, self.keywords = flags, default, help, keywords
        self.sweep_help = sweep_help or help

    @property
    def dest(self):
        return self.flags[0].lstrip("-").replace("-", "_")


BACKEND_HELP = "kernels to run (default: $CNET_BACKEND, else the compiled ones)"
CHAPTER3 = ("cost", "activation", "lmbda", "regularization", "mu", "eta_schedule", "early_stopping",
            "evaluate_on")
# The options of `train`; `sweep` takes each of them as a list of values to sweep over.
TRAINING = (
    Option(["--sizes"], [784, 30, 10], "layer widths, separated by commas (default 784,30,10)",
           type=sizes, metavar="WIDTHS"),
    Option(["--epochs"], 30, "default 30", type=positive(int)),
    Option(["--mini-batch-size"], 10, "default 10", type=positive(int)),
    Option(["--eta"], 3.0, "learning rate (default 3.0)", type=positive(float)),
    Option(["--seed", "--seeds"], None,
           "seed the initialisation and shuffles (numpy.random.default_rng; default: unseeded)",
           "seeds of the initialisation and shuffles (default 0)", type=at_least_zero(int)),
    Option(["--dtype"], "float64",
           "precision of the arithmetic (float32: faster, not bit-faithful to the book)",
           choices=["float64", "float32"]),
    Option(["--limit", "--n-train"], None, "use only the first N training and test images",
           "train on the first N training images (default: all); every evaluation image is used",
           type=positive(int), metavar="N"),
    Option(["--cost"], "quadratic",
           "quadratic (default; the chapter-1 network and initialisation), cross-entropy, or "
           "log-likelihood (a softmax output layer); the last two are network2's networks, "
           "weights initialised N(0, 1/n_in)",
           "quadratic, cross-entropy (default) or log-likelihood, of network2's networks",
           type=cost, metavar="{" + ",".join(COST_NAMES) + "}"),
    Option(["--activation"], "sigmoid", "the hidden layers' neurons (default sigmoid)",
           choices=list(ACTIVATIONS)),
    Option(["--lmbda"], 0.0, "regularisation strength lambda (default 0)", type=at_least_zero(float)),
    Option(["--regularization"], "L2", "default L2", choices=["L2", "L1"]),
    Option(["--mu"], 0.0, "momentum coefficient in [0, 1) (default 0: plain SGD)", type=momentum),
    Option(["--eta-schedule", "--eta-schedule-n"], 0,
           "halve eta whenever the evaluation accuracy has not improved for N epochs; "
           "stop at eta/128 (default 0: off)", type=at_least_zero(int), metavar="N"),
    Option(["--early-stopping", "--early-stopping-n"], 0,
           "stop when the evaluation accuracy has not improved for N epochs (default 0: off)",
           type=at_least_zero(int), metavar="N"),
    Option(["--evaluate-on"], "test", "the images each epoch is evaluated on (default test)",
           choices=["test", "validation"]),
    Option(["--backend"], None, BACKEND_HELP, choices=_kernels.BACKENDS),
)


def add_training_options(parser, lists=False):
    """Add the options of ``TRAINING`` and ``--monitor`` to ``parser``: one value each
    (train's defaults), or with ``lists`` one or more each (None when not given: the
    sweep's defaults apply).  The chapter-3 options go in a group of their own."""
    chapter3 = parser.add_argument_group("chapter 3" + ("" if lists else
                                                        " (each off by default: the chapter-1 run)"))
    for option in TRAINING:
        group = chapter3 if option.dest in CHAPTER3 else parser
        keywords = dict(option.keywords, dest=option.dest, default=None if lists else option.default)
        if lists:
            keywords["nargs"] = "+"
        group.add_argument(option.flags[0], help=option.sweep_help if lists else option.help, **keywords)
        for alias in option.flags[1:]:
            group.add_argument(alias, help=argparse.SUPPRESS, **keywords)
    chapter3.add_argument("--monitor", choices=MONITORS, nargs="+", action="extend", default=[],
                          metavar="WHAT", help=("also record these each epoch (the evaluation cost and "
                                                "accuracy always are): " if lists else
                                                "also print these each epoch: ") + ", ".join(MONITORS))


def add_backend(parser):
    parser.add_argument("--backend", choices=_kernels.BACKENDS, default=None, help=BACKEND_HELP)


def add_data_dir(parser, purpose="where MNIST is"):
    parser.add_argument("--data-dir", metavar="DIR", default=None,
                        help=purpose + " (default: $CNET_DATA_DIR, the cache, else fetch it)")


# ------------------------------------------------------------ checks, before any work

def check_mnist_sizes(widths, argument):
    """Refuse layer widths that do not take MNIST's 784 pixels and give its 10 digits
    (a ValueError naming ``argument``)."""
    if widths[0] != MNIST_INPUTS or widths[-1] != MNIST_OUTPUTS:
        raise ValueError("{}: {} must start with {} (the pixels) and end with {} (the digits)".format(
            argument, widths, MNIST_INPUTS, MNIST_OUTPUTS))


def check_input_file(path, argument):
    """Refuse a file to read that is not there (a ValueError naming ``argument`` and the file)."""
    if not os.path.exists(path):
        raise ValueError("{} {}: no such file".format(argument, path))
    if os.path.isdir(path):
        raise ValueError("{} {}: is a directory, not a file".format(argument, path))


def check_output_file(path, argument):
    """Refuse a file to write whose directory is missing or not writable, or that is a
    directory (a ValueError naming ``argument``, the file and the directory)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError("{} {}: no directory {}".format(argument, path, directory))
    if os.path.isdir(path):
        raise ValueError("{} {}: is a directory".format(argument, path))
    if not os.access(directory, os.W_OK):
        raise ValueError("{} {}: cannot write in the directory {}".format(argument, path, directory))


def error_text(exc):
    """An error as one line: an OSError as "FILE: what went wrong" (not its errno tuple)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else None
        return "{}: {}".format(where, exc.strerror.lower()) if where else exc.strerror.lower()
    return str(exc)


def load_network(path, backend=None, argument="FILE"):
    """The network saved in ``path`` (network2's JSON), on ``backend`` when given."""
    from cnet import network2
    check_input_file(path, argument)
    net = network2.load(path)
    if backend:
        other = network2.Network(net.sizes, cost=net.cost, backend=backend, activation=net.activation)
        other.weights, other.biases = net.weights, net.biases
        net = other
    return net
