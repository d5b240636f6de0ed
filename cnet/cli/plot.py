"""`cnet plot FILE`: draw a sweep's results, or a saved network's weights and confusion matrix."""
from cnet import mnist_loader
from cnet.cli import options


def add_parser(subparsers):
    p = subparsers.add_parser("plot", help="draw a sweep's results, or a saved network's weights and "
                              "confusion matrix (needs matplotlib)",
                              description="FILE is a sweep's results (JSON lines): one panel per "
                              "configuration of the keys not drawn as lines, one line per value of --by "
                              "(default: the learning rate eta), the median over seeds of --metric per "
                              "epoch. Or FILE is a network saved as JSON: its first layer's weights as "
                              "28x28 images and its confusion matrix on the test images.")
    p.add_argument("file", metavar="FILE", help="a sweep's results file, or a saved network")
    p.add_argument("--out", metavar="FIG", help="the figure's file, .png or .svg (default: FILE's "
                   "name with .png)")
    p.add_argument("--by", default="eta", metavar="KEY", help="the configuration key whose values are "
                   "the lines (default eta)")
    p.add_argument("--metric", default="evaluation_accuracy",
                   choices=["evaluation_accuracy", "evaluation_cost", "training_accuracy", "training_cost",
                            "overfitting"],
                   help="what to draw per epoch; overfitting: training against evaluation accuracy")
    options.add_data_dir(p, "where MNIST is, for a network's confusion matrix")
    p.set_defaults(run=run)


def run(args):
    try:
        from cnet import plot
    except ImportError as exc:
        raise RuntimeError(str(exc)) from None
    options.check_input_file(args.file, "FILE")
    out = args.out or (args.file.rsplit(".", 1)[0] if "." in args.file else args.file) + ".png"
    if args.out:
        options.check_output_file(args.out, "--out")
    if plot.is_network(args.file):
        net = options.load_network(args.file)
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
