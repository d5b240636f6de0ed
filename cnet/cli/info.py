"""`cnet info`: which kernels this installation runs, for bug reports."""
import json


def add_parser(subparsers):
    p = subparsers.add_parser("info", help="print which kernels this installation runs, for bug reports")
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(run=run)


def run(args):
    """Print ``cnet.info()``, one key a line (``--json``: as JSON)."""
    import cnet
    facts = cnet.info()
    if args.json:
        print(json.dumps(facts, indent=2))
        return
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        if isinstance(value, dict):
            value = ", ".join("{}={}".format(k, v) for k, v in value.items()) or "-"
        print("{:<{}}  {}".format(key, width, value))
