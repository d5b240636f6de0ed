"""The command line's subcommands, one module each: ``train``, ``evaluate``, ``predict``, ``sweep``, ``plot``, ``info``.

Each has ``add_parser(subparsers)``, which adds its parser and sets ``run`` as
its handler, and ``run(args)``, which returns the exit status (None: 0).
``options`` holds what they share.  ``cnet.__main__`` dispatches to them.
"""
