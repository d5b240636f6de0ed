"""The experiments of the book's ``conv.py`` (chapter 6) by their function names, as data, and a runner."""
import collections
import time

import numpy as np

__all__ = ["EXPERIMENTS", "MINI_BATCH_SIZE", "Experiment", "RunResult", "layer_specs", "build", "describe",
           "header", "expanded_path", "load_data", "run"]

MINI_BATCH_SIZE = 10    # conv.py's mini_batch_size, for every experiment


class Experiment(collections.namedtuple("Experiment", "name eta lmbda epochs runs expanded n summary")):
    """One of conv.py's functions: its η, λ and epochs, its repetitions (``runs``),
    whether it trains on the expanded data, its ``n`` (the width of its FC layers,
    for the experiments that take one; else None) and what it shows."""


# conv.py's settings, function by function.  dbl_conv_relu sweeps λ in the book;
# this is its chosen λ (0.1).  double_fc_dropout(0.5, 0.5, 0.5, 5) is the call of
# conv.py's run_experiments: five nets, then their vote.
EXPERIMENTS = collections.OrderedDict((e.name, e) for e in (
    Experiment("shallow", 0.1, 0.0, 60, 3, False, None, "one hidden layer of 100 sigmoid neurons"),
    Experiment("basic_conv", 0.1, 0.0, 60, 3, False, None, "a convolutional-pooling layer, then FC"),
    Experiment("omit_FC", 0.1, 0.0, 60, 3, False, None, "a convolutional-pooling layer, no FC"),
    Experiment("dbl_conv", 0.1, 0.0, 60, 3, False, None, "two convolutional-pooling layers"),
    Experiment("dbl_conv_relu", 0.03, 0.1, 60, 3, False, None, "the same with ReLU, L2-regularised"),
    Experiment("expanded_data", 0.03, 0.1, 60, 3, True, 100, "dbl_conv_relu on the expanded data"),
    Experiment("expanded_data_double_fc", 0.03, 0.1, 60, 3, True, 100, "a second FC layer"),
    Experiment("double_fc_dropout", 0.03, 0.0, 40, 5, True, None,
               "FC layers of 1000 with dropout 0.5; the vote of the nets"),
))

RunResult = collections.namedtuple("RunResult", "run seed best_validation test seconds iteration")
RunResult.__doc__ = """One run: its index and seed, the best validation accuracy, the test
accuracy at that epoch, the training's wall time in seconds, and the iteration of the best epoch."""

# the layers' specifications: ("conv", image_shape, filter_shape, activation),
# ("fc", n_in, n_out, activation, p_dropout), ("softmax", n_in, n_out, p_dropout)
_M = MINI_BATCH_SIZE
_CONV1 = (_M, 1, 28, 28), (20, 1, 5, 5)
_CONV2 = (_M, 20, 12, 12), (40, 20, 5, 5)


def layer_specs(name, n=None):
    """The layers of experiment ``name`` as tuples (``n``: the width of the FC layers
    of expanded_data and expanded_data_double_fc, default the book's 100)."""
    experiment = _experiment(name)
    n = experiment.n if n is None else int(n)
    if n is not None and n < 1:
        raise ValueError("n must be a positive number of neurons, got {}".format(n))
    conv1 = ("conv",) + _CONV1
    conv2 = ("conv",) + _CONV2
    return {
        "shallow": [("fc", 784, 100, "sigmoid", 0.0), ("softmax", 100, 10, 0.0)],
        "basic_conv": [conv1 + ("sigmoid",), ("fc", 20 * 12 * 12, 100, "sigmoid", 0.0),
                       ("softmax", 100, 10, 0.0)],
        "omit_FC": [conv1 + ("sigmoid",), ("softmax", 20 * 12 * 12, 10, 0.0)],
        "dbl_conv": [conv1 + ("sigmoid",), conv2 + ("sigmoid",), ("fc", 40 * 4 * 4, 100, "sigmoid", 0.0),
                     ("softmax", 100, 10, 0.0)],
        "dbl_conv_relu": [conv1 + ("ReLU",), conv2 + ("ReLU",), ("fc", 40 * 4 * 4, 100, "ReLU", 0.0),
                          ("softmax", 100, 10, 0.0)],
        "expanded_data": [conv1 + ("ReLU",), conv2 + ("ReLU",), ("fc", 40 * 4 * 4, n, "ReLU", 0.0),
                          ("softmax", n, 10, 0.0)],
        "expanded_data_double_fc": [conv1 + ("ReLU",), conv2 + ("ReLU",), ("fc", 40 * 4 * 4, n, "ReLU", 0.0),
                                    ("fc", n, n, "ReLU", 0.0), ("softmax", n, 10, 0.0)],
        "double_fc_dropout": [conv1 + ("ReLU",), conv2 + ("ReLU",), ("fc", 40 * 4 * 4, 1000, "ReLU", 0.5),
                              ("fc", 1000, 1000, "ReLU", 0.5), ("softmax", 1000, 10, 0.5)],
    }[experiment.name]


def build(specs):
    """network3 layers made from ``specs`` (``layer_specs``), drawing their initial
    parameters from ``np.random`` in the book's order, in ``network3.floatX``."""
    from cnet import network3
    layers = []
    for spec in specs:
        kind = spec[0]
        if kind == "conv":
            layers.append(network3.ConvPoolLayer(image_shape=spec[1], filter_shape=spec[2], poolsize=(2, 2),
                                                 activation_fn=getattr(network3, spec[3])))
        elif kind == "fc":
            layers.append(network3.FullyConnectedLayer(n_in=spec[1], n_out=spec[2],
                                                       activation_fn=getattr(network3, spec[3]),
                                                       p_dropout=spec[4]))
        else:
            layers.append(network3.SoftmaxLayer(n_in=spec[1], n_out=spec[2], p_dropout=spec[3]))
    return layers


def describe(specs):
    """The layers of ``specs`` in a line: "ConvPool(20 5x5 on 1x28x28, pool 2x2, ReLU) -> ..."."""
    words = []
    for spec in specs:
        kind = spec[0]
        if kind == "conv":
            (_, maps, h, w), (filters, _, fh, fw) = spec[1], spec[2]
            words.append("ConvPool({} {}x{} on {}x{}x{}, pool 2x2, {})".format(filters, fh, fw, maps, h, w,
                                                                             spec[3]))
        else:
            dropout = spec[-1]
            extra = ([spec[3]] if kind == "fc" else []) + (["dropout {:g}".format(dropout)] if dropout else [])
            words.append("{}({}->{}{})".format("FC" if kind == "fc" else "Softmax", spec[1], spec[2],
                                                "".join(", " + e for e in extra)))
    return " -> ".join(words)


def header(name, run, n=None):
    """The line conv.py prints before run ``run`` of experiment ``name``."""
    experiment = _experiment(name)
    n = experiment.n if n is None else n
    return {
        "shallow": "A shallow net with 100 hidden neurons",
        "basic_conv": "Conv + FC architecture",
        "omit_FC": "Conv only, no FC",
        "dbl_conv": "Conv + Conv + FC architecture",
        "dbl_conv_relu": "Conv + Conv + FC num {}, relu, with regularization {}".format(run, experiment.lmbda),
        "expanded_data": "Training with expanded data, {} neurons in the FC layer, run num {}".format(n, run),
        "expanded_data_double_fc": "Training with expanded data, {} neurons in two FC layers, "
                                   "run num {}".format(n, run),
        # Python 2's print of "...parameters ", p0, p1, p2: a space between the items
        "double_fc_dropout": "\n\nTraining using a dropout network with parameters  0.5 0.5 0.5\n"
                             "Training with expanded data, run num {}".format(run),
    }[experiment.name]


def _experiment(name):
    if name not in EXPERIMENTS:
        raise ValueError("unknown experiment {!r}; conv.py's are: {}".format(name, ", ".join(EXPERIMENTS)))
    return EXPERIMENTS[name]


# ------------------------------------------------------------ data

def expanded_path(data_dir=None):
    """Where ``mnist_expanded.pkl.gz`` is: in ``data_dir``, ``$CNET_DATA_DIR`` or
    cnet's cache, the first that has it; a ValueError naming ``cnet expand-mnist``
    when none does."""
    from cnet import datasets
    from cnet._network3_data import data_places, find_data_file
    path = find_data_file(datasets.EXPANDED, data_dir)
    if path is None:
        raise ValueError("{} is not in {}: make it with `cnet expand-mnist` (under a minute)".format(
            datasets.EXPANDED, " nor ".join(dict.fromkeys(data_places(data_dir)))))
    return path


def load_data(expanded=False, data_dir=None, limit=None, dtype=None):
    """``[training, validation, test]`` as network3's (x, y) pairs of ``Shared``
    arrays in ``dtype`` (default ``network3.floatX``): MNIST's 50,000 / 10,000 /
    10,000 from ``data_dir`` (as ``mnist_loader.load_data`` finds it), or with
    ``expanded`` those of ``mnist_expanded.pkl.gz`` (``expanded_path``), whose
    training part is the expanded 250,000; each cut to its first ``limit``."""
    from cnet import datasets, mnist_loader, network3
    from cnet._network3_data import shared_pairs
    dtype = np.dtype(dtype or network3.floatX)
    if expanded:    # the file holds MNIST's validation and test images too, as the book's does
        # (read_pickle refuses a file that is not three (images, labels) pairs)
        parts = datasets.read_pickle(expanded_path(data_dir))
    else:
        parts = mnist_loader.load_data(data_dir)
    return shared_pairs(parts, dtype, limit)


# ------------------------------------------------------------ running

def run(name, data, runs=None, epochs=None, seed=0, n=None, num_threads=None, backend=None, save=None,
        watch=None, log=print):
    """Train experiment ``name`` ``runs`` times (default conv.py's repetitions) on
    ``data`` (``load_data``'s three pairs) with conv.py's η, λ, mini-batch and
    epochs (``epochs`` overrides them), and return ``(results, nets, vote)``:
    a ``RunResult`` per run, the trained networks, and for double_fc_dropout the
    accuracy of their plurality vote on the test data (``network3.ensemble``;
    else None).

    Run j seeds ``np.random`` with ``seed + j`` before building its layers (the
    book's initial parameters for that seed) and its dropout masks with the same
    number.  It prints conv.py's line for the run (``log``), then network3's
    lines as it trains.  ``save(j, net)``, when given, is called after run j;
    ``watch(net, batches)`` before it trains (to show progress).
    """
    from cnet import network3
    experiment = _experiment(name)
    runs = experiment.runs if runs is None else int(runs)
    epochs = experiment.epochs if epochs is None else int(epochs)
    if runs < 1 or epochs < 1:
        raise ValueError("runs and epochs must be positive, got {} and {}".format(runs, epochs))
    specs = layer_specs(name, n)
    training, validation, test = data
    batches = len(training[0]) // MINI_BATCH_SIZE
    results, nets = [], []
    for j in range(runs):
        run_seed = int(seed) + j
        log(header(name, j, n))
        np.random.seed(run_seed)
        net = network3.Network(build(specs), MINI_BATCH_SIZE, seed=run_seed, backend=backend,
                               num_threads=num_threads)
        if watch is not None:
            watch(net, batches)
        started = time.perf_counter()
        best_validation, test_accuracy = net.SGD(training, epochs, MINI_BATCH_SIZE, experiment.eta,
                                                 validation, test, lmbda=experiment.lmbda)
        seconds = time.perf_counter() - started
        results.append(RunResult(j, run_seed, best_validation, test_accuracy, seconds, net.best_iteration))
        nets.append(net)
        if save is not None:
            save(j, net)
    vote = None
    if name == "double_fc_dropout":
        errors, _ = network3.ensemble(nets, test)
        vote = 1 - len(errors) / float(network3.size(test))
    return results, nets, vote
