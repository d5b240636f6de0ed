"""The command line: ``python -m cnet train`` and ``python -m cnet evaluate FILE``.

``train`` trains the book's chapter-1 network on MNIST (default [784, 30, 10],
30 epochs, mini-batch 10, eta 3.0), printing each epoch's test accuracy and
time; ``evaluate`` prints the test accuracy of a network saved with
``--save`` or ``network2``'s ``save``.
"""
import argparse
import sys
import time

from cnet import _kernels, datasets, mnist_loader, network, network2
from cnet._progress import progress_bar


def _sizes(text):
    try:
        sizes = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected layer widths such as 784,30,10, got {!r}".format(text)) from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError("expected at least two positive widths, got {!r}".format(text))
    return sizes


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                "expected a positive {}, got {!r}".format(kind.__name__, text)) from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError("expected a positive {}, got {!r}".format(kind.__name__, text))
        return value
    return parse


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
    for q in (t, sub.add_parser("evaluate", help="print a saved network's accuracy on the test images")):
        q.add_argument("--backend", choices=_kernels.BACKENDS, default=None,
                       help="kernels to run (default: $CNET_BACKEND, else the compiled ones)")
        q.add_argument("--data-dir", metavar="DIR", default=None,
                       help="where MNIST is (default: $CNET_DATA_DIR, the cache, else fetch it)")
    sub.choices["evaluate"].add_argument("file", metavar="FILE", help="a network saved as JSON")
    return p


def train(args):
    training_data, _, test_data = mnist_loader.load_data_wrapper(args.data_dir)
    if args.limit:
        training_data, test_data = training_data[:args.limit], test_data[:args.limit]
    if args.sizes[0] != 784 or args.sizes[-1] != 10:
        raise ValueError("--sizes must start with 784 (the pixels) and end with 10 (the digits)")
    net = network.Network(args.sizes, seed=args.seed, backend=args.backend, dtype=args.dtype,
                          num_threads=args.threads)
    isa = getattr(_kernels.get(net.backend, net.dtype), "ISA", None)
    print("cnet: {} on {} training images, {} epoch{}, mini-batch {}, eta {}; {} kernels ({}{}){}".format(
        args.sizes, len(training_data), args.epochs, "s" if args.epochs != 1 else "",
        args.mini_batch_size, args.eta, net.backend, args.dtype, ", " + isa if isa else "",
        ", {} threads".format(net.num_threads) if net.num_threads > 1 else ""))
    count_correct = net.correct_counter(test_data, "test_data")
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
        print("Epoch {}: {} / {} ({:.2f}%)  {:.2f} s".format(
            j, correct, len(test_data), 100.0 * correct / len(test_data), seconds), flush=True)

    steps = 100 if sys.stderr.isatty() else 1  # a bar needs steps; without one, one call an epoch
    net.train_epochs(training_data, args.epochs, args.mini_batch_size, args.eta, 0.0, report, progress, steps)
    if args.save:
        net.save(args.save)
        print("saved to {}".format(args.save))


def evaluate(args):
    net = network2.load(args.file)
    if args.backend:
        net = _with_backend(net, args.backend)
    _, _, test_data = mnist_loader.load_data_wrapper(args.data_dir)
    correct = net.accuracy(test_data)
    print("{}: {} / {} ({:.2f}%) of the test images".format(
        args.file, correct, len(test_data), 100.0 * correct / len(test_data)))


def _with_backend(net, backend):
    other = network2.Network(net.sizes, cost=net.cost, backend=backend)
    other.weights, other.biases = net.weights, net.biases
    return other


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        (train if args.command == "train" else evaluate)(args)
    except (datasets.DataNotFound, ValueError, TypeError, OSError, RuntimeError) as exc:
        print("cnet: error: {}".format(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cnet: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
