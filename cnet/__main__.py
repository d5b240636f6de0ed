"""``python -m cnet`` and the ``cnet`` console script: run the subcommand of ``cnet.cli`` named on the command line."""
import argparse
import sys

from cnet import datasets
from cnet.cli import chapter6, evaluate, expand, info, options, plot, predict, sweep, train

__all__ = ["main", "parser"]
SUBCOMMANDS = (train, evaluate, predict, sweep, plot, info, chapter6, expand)


def parser():
    """The command line's parser: each subcommand's ``run`` is ``args.run``."""
    p = argparse.ArgumentParser(prog="cnet", description="Train and evaluate the networks of "
                                "'Neural Networks and Deep Learning' on MNIST, compiled.")
    subparsers = p.add_subparsers(dest="command", required=True)
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(subparsers)
    return p


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return its exit status:
    the subcommand's (0 when it returns None), 1 after an error, printed as one line,
    2 for options argparse refused, 130 when interrupted."""
    args = parser().parse_args(argv)
    try:
        status = args.run(args)
    except (datasets.DataNotFound, ValueError, TypeError, OSError, RuntimeError) as exc:
        print("cnet: error: {}".format(options.error_text(exc)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cnet: interrupted", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
