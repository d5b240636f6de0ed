"""`cnet expand-mnist`: write the book's mnist_expanded.pkl.gz (each training image and its four one-pixel moves)."""
import os
import time

from cnet import datasets
from cnet.cli import options


def add_parser(subparsers):
    p = subparsers.add_parser(
        "expand-mnist", help="make the book's mnist_expanded.pkl.gz (chapter 6's expanded data)",
        description="Make the book's mnist_expanded.pkl.gz, as its expand_mnist.py does: each of the "
        "50,000 training images and its copies moved one pixel up, down, left and right, 250,000 pairs "
        "shuffled, with MNIST's validation and test images (under a minute; a file of about 66 MB). "
        "cnet chapter6 and network3.load_data_shared('../data/mnist_expanded.pkl.gz') find it in cnet's "
        "cache, $CNET_DATA_DIR or the chapter6 --data-dir.")
    options.add_data_dir(p, "where MNIST is")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="the directory to write it in (default: cnet's cache, {})".format(datasets.cache_dir()))
    p.add_argument("--seed", type=options.at_least_zero(int), default=0,
                   help="the seed of the shuffle (default 0: the same file each time)")
    p.add_argument("--force", action="store_true", help="make it again when it is there already")
    p.set_defaults(run=run)


def run(args):
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError("--out {}: not a directory".format(args.out))
    target = os.path.join(os.path.abspath(args.out or datasets.cache_dir()), datasets.EXPANDED)
    if os.path.isfile(target) and not args.force:
        print("{} is there already ({}); --force makes it again".format(target, _size(target)))
        return 0
    started = time.perf_counter()
    path = datasets.expand_mnist(args.data_dir, directory=args.out, seed=args.seed, force=args.force,
                                 log=lambda message: print(message, flush=True))
    print("wrote {} ({}, {:.1f} s)".format(path, _size(path), time.perf_counter() - started))
    return 0


def _size(path):
    size = os.path.getsize(path)
    return "{:.1f} MB".format(size / 1e6) if size >= 1e5 else "{:,} bytes".format(size)
