"""`cnet evaluate FILE`: the test accuracy of a saved network."""
from cnet import mnist_loader
from cnet.cli import options


def add_parser(subparsers):
    p = subparsers.add_parser("evaluate", help="print a saved network's accuracy on the test images")
    p.add_argument("file", metavar="FILE", help="a network saved as JSON")
    options.add_backend(p)
    options.add_data_dir(p)
    p.set_defaults(run=run)


def run(args):
    net = options.load_network(args.file, args.backend)
    _, _, test_data = mnist_loader.load_data_wrapper(args.data_dir)
    correct = net.accuracy(test_data)
    print("{}: {} / {} ({:.2f}%) of the test images".format(
        args.file, correct, len(test_data), 100.0 * correct / len(test_data)))
