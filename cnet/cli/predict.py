"""`cnet predict NET IMAGE...`: the digit a saved network sees in each of your images."""
import os
import sys

from cnet.cli import options


def add_parser(subparsers):
    p = subparsers.add_parser("predict", help="the digit in each of your images, by a saved network")
    p.add_argument("file", metavar="NET", help="a network saved as JSON (784 inputs): network2's, or network3's "
                                                      "(net.save)")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files, one digit each")
    p.add_argument("--show", action="store_true",
                   help="write what the network saw, 28x28, next to each image as IMAGE.mnist.png")
    p.add_argument("--show-dir", metavar="DIR", default=None,
                   help="with --show (implied): write the 28x28 inputs into DIR instead")
    options.add_backend(p)
    p.set_defaults(run=run)


def run(args):
    """Print the digit a saved network sees in each image, and its three best scores
    (``cnet.images``, which needs Pillow); return 1 if any image failed."""
    try:
        from cnet import images
    except ImportError as exc:
        raise RuntimeError(str(exc)) from None
    options.check_input_file(args.file, "NET")
    if _is_network3(args.file):
        kind, score = _network3_scores(args.file, args.backend)
    else:
        net = options.load_network(args.file, args.backend, "NET")
        if net.sizes[0] != images.SIDE * images.SIDE:
            raise ValueError("{}: the network takes {} inputs; an image becomes 784 (28 x 28), so "
                             "predict needs a network of sizes [784, ..., 10]".format(args.file, net.sizes[0]))
        kind = "probabilities" if net._softmax_output() else "scores"

        def score(x):
            return net.predict_proba(x)[:, 0]
    failed = 0
    for path in args.images:
        try:
            x = images.to_mnist(path)
            scores = score(x)
            best = sorted(range(len(scores)), key=lambda j: -scores[j])[:3]
            print("{}: {}   {} {}".format(path, best[0], kind,
                                          "  ".join("{} {:.3f}".format(j, scores[j]) for j in best)))
            if args.show or args.show_dir:
                shown = _shown_path(path, args.show_dir)
                images.write_png(x, shown)
                print("  saw: {}".format(shown))
        except (ValueError, OSError) as exc:     # this image; the others still run
            print("cnet: error: {}".format(options.error_text(exc)), file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _is_network3(path):
    """Whether ``path`` holds JSON of network3's format (``net.save`` of chapter 6's networks)."""
    import json
    from cnet._network3_files import FORMAT
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def _network3_scores(path, backend):
    """("probabilities", score): ``score(x)`` the softmax output of the network3 network
    saved in ``path`` for one (784, 1) input, on ``backend`` when given."""
    import numpy as np

    from cnet import _layer_math, network3
    net = network3.load(path)
    if net.layers[0].n_inputs != 784 or net.layers[-1].n_out != 10:
        raise ValueError("{}: the network takes {} inputs and gives {}; predict needs 784 (28 x 28) "
                         "and 10".format(path, net.layers[0].n_inputs, net.layers[-1].n_out))
    if backend:
        net = network3.Network(net.layers, net.mini_batch_size, seed=net.seed, backend=backend)

    def score(x):
        a, _ = _layer_math.forward(net.layers, np.asarray(x, dtype=net.dtype).reshape(1, -1), net._kernels)
        return a[0]
    return "probabilities", score


def _shown_path(path, directory):
    """Where ``--show`` writes the 28 x 28 input for ``path``: IMAGE.mnist.png, beside
    it or in ``directory``."""
    name = os.path.basename(path) + ".mnist.png"
    if directory:
        os.makedirs(directory, exist_ok=True)
        return os.path.join(directory, name)
    return path + ".mnist.png"
