"""`cnet train`: train a network on MNIST, printing each epoch's accuracy and time, and save it."""
import sys
import time

import numpy as np

from cnet import _kernels, mnist_loader, network, network2
from cnet._engine import EarlyStopping, EtaSchedule
from cnet._progress import progress_bar
from cnet.cli import options
from cnet.functions import COST_NAMES, QuadraticCost


def add_parser(subparsers):
    p = subparsers.add_parser("train", help="train a network on MNIST (the book's chapter 1 defaults)",
                              description="Train a network on MNIST: the book's chapter-1 run by default "
                              "([784, 30, 10], 30 epochs, mini-batch 10, eta 3.0), printing each epoch's "
                              "accuracy and time; the chapter-3 options change it.")
    options.add_training_options(p)
    p.add_argument("--threads", type=options.positive(int), default=None, metavar="N",
                   help="threads to train on (default: $CNET_NUM_THREADS, else 1); the same results "
                        "for any N")
    p.add_argument("--save", metavar="FILE", help="save the trained network as JSON (network2's format)")
    options.add_data_dir(p)
    p.set_defaults(run=run)


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


def _network(args):
    """The network the options describe: the chapter-1 network for the quadratic cost
    (its N(0, 1) initialisation, draw for draw), else network2's."""
    if args.cost == "quadratic":
        net = network.Network(args.sizes, seed=args.seed, backend=args.backend, dtype=args.dtype,
                              num_threads=args.threads)
        net.activation = args.activation
        return net
    return network2.Network(args.sizes, cost=COST_NAMES[args.cost], seed=args.seed, backend=args.backend,
                            dtype=args.dtype, num_threads=args.threads, activation=args.activation)


def run(args):
    # every argument is checked before the data is read or anything trains
    options.check_mnist_sizes(args.sizes, "--sizes")
    if args.save:
        options.check_output_file(args.save, "--save")
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper(args.data_dir)
    evaluation_data = validation_data if args.evaluate_on == "validation" else test_data
    if args.limit:
        training_data, evaluation_data = training_data[:args.limit], evaluation_data[:args.limit]
    net = _network(args)
    isa = getattr(_kernels.get(net.backend, net.dtype), "ISA", None)
    print("cnet: {} on {} training images, {} epoch{}, mini-batch {}, eta {}{}; {} kernels ({}{}){}".format(
        args.sizes, len(training_data), args.epochs, "s" if args.epochs != 1 else "",
        args.mini_batch_size, args.eta, _chapter3(args), net.backend, args.dtype,
        ", " + isa if isa else "", ", {} threads".format(net.num_threads) if net.num_threads > 1 else ""))
    count_correct = net.correct_counter(evaluation_data, args.evaluate_on + "_data")
    monitors = _monitors(net, args, training_data, evaluation_data)
    schedule = EtaSchedule(args.eta, args.eta_schedule) if args.eta_schedule else None
    early_stopping = EarlyStopping(args.early_stopping) if args.early_stopping else None
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
        if early_stopping is not None and early_stopping.stop_after(correct):
            return False
        if schedule:
            eta = schedule.after_epoch(correct)
            return False if eta is None else eta
        return None

    steps = 100 if sys.stderr.isatty() else 1  # a bar needs steps; without one, one call an epoch
    net.train_epochs(training_data, args.epochs, args.mini_batch_size, args.eta, args.lmbda, report,
                     progress, steps, mu=args.mu, regularization=args.regularization)
    if args.save:
        try:
            net.save(args.save)
        except OSError as exc:   # checked before training; the disk or its permissions changed since
            raise ValueError("--save {}: cannot write it: {}".format(
                args.save, (exc.strerror or str(exc)).lower())) from None
        print("saved to {}".format(args.save))


def _monitors(net, args, training_data, evaluation_data):
    """A function of no arguments giving the lines of the --monitor values asked for,
    in network2's words and order, for the network as it is when called."""
    wanted = set(args.monitor)
    if not wanted:
        return lambda: []
    if "training-accuracy" in wanted:
        # the training images with their digits (network2's accuracy(..., convert=True)),
        # packed for the kernels once
        count_training = net.correct_counter([(x, int(np.argmax(y))) for x, y in training_data],
                                             "training_data")
    costs = _cost_network(net)

    def lines():
        out = []
        if "training-cost" in wanted:
            out.append("Cost on training data: {}".format(
                costs().total_cost(training_data, args.lmbda, regularization=args.regularization)))
        if "training-accuracy" in wanted:
            out.append("Accuracy on training data: {} / {}".format(count_training(), len(training_data)))
        if "evaluation-cost" in wanted:
            out.append("Cost on evaluation data: {}".format(
                costs().total_cost(evaluation_data, args.lmbda, convert=True,
                                   regularization=args.regularization)))
        return out
    return lines


def _cost_network(net):
    """A function giving a network whose ``total_cost`` is ``net``'s cost now: ``net``
    itself (network2's), or for the chapter-1 network, which has no ``total_cost``, a
    network2 network of the quadratic cost given ``net``'s weights and biases."""
    if isinstance(net, network2.Network):
        return lambda: net
    # seeded: its own initial draws (replaced before each use) leave np.random's state alone
    twin = network2.Network(net.sizes, cost=QuadraticCost, seed=0, backend=net.backend, dtype=net.dtype,
                            num_threads=net.num_threads, activation=net.activation)

    def current():
        twin.weights, twin.biases = net.weights, net.biases
        return twin
    return current
