"""A sweep's configurations: the keys a run may set, grids of them, their canonical form and their checks."""
import contextlib
import inspect
import io
import itertools
import math

import numpy as np

from cnet import network2
from cnet._sweep_results import identity
from cnet.cli.options import check_mnist_sizes
from cnet.functions import BUILTIN_COSTS, COST_NAMES, cost_by_name

# the sweep's own keys, and the values a configuration gets when it does not name them
DEFAULTS = {"sizes": [784, 30, 10], "cost": "CrossEntropyCost", "epochs": 30, "mini_batch_size": 10,
            "eta": 3.0, "n_train": None, "evaluate_on": "test", "seed": 0}
EVALUATE_ON = ("test", "validation")
# parameters of Network / SGD that the sweep itself sets
RESERVED = {"self", "training_data", "evaluation_data", "monitor_evaluation_cost",
            "monitor_evaluation_accuracy", "num_threads"}


# ------------------------------------------------------------ configurations

def parameters():
    """``(init, sgd)``: the names of the parameters of ``network2.Network(...)`` and of
    ``Network.SGD(...)`` that a configuration may set, each mapped to its default
    (``inspect.Parameter.empty`` when it has none)."""
    def named(function):
        return {name: p.default for name, p in inspect.signature(function).parameters.items()
                if name not in RESERVED and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return named(network2.Network.__init__), named(network2.Network.SGD)


def keys():
    """Every key a configuration may hold, sorted."""
    init, sgd = parameters()
    return sorted(set(DEFAULTS) | set(init) | set(sgd))


def grid(**axes):
    """The configurations of a grid: one for each combination of the values listed
    for each key (the cartesian product, first key slowest).

    A value that is not a list is one value (``sizes=[784, 30, 10]`` is one
    network; ``sizes=[[784, 15, 10], [784, 30, 10]]`` is two).  ``seeds=`` is
    another name for ``seed=``.  An empty list is a ``ValueError``: it would
    make the grid empty.
    """
    if "seeds" in axes:
        if "seed" in axes:
            raise ValueError("grid: give seed= or seeds=, not both")
        axes["seed"] = axes.pop("seeds")
    names, values = [], []
    for name, value in axes.items():
        if name == "sizes" and isinstance(value, (list, tuple)) and value \
                and not isinstance(value[0], (list, tuple)):
            value = [value]
        elif not isinstance(value, (list, tuple, range)):
            value = [value]
        if len(value) == 0:
            raise ValueError("grid: {!r} has no values, so the grid is empty".format(name))
        names.append(name)
        values.append(list(value))
    return [dict(zip(names, combination)) for combination in itertools.product(*values)]


def _plain(name, value):
    """``value`` as JSON-ready Python (lists, not tuples or arrays; Python numbers)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_plain(name, v) for v in value]
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name                    # dtype=np.float32 → "float32"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("configuration key {!r}: {} is not a finite number".format(name, value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError("configuration key {!r}: {!r} is not a plain value (a number, a string, a list "
                     "or None), so it cannot be recorded".format(name, value))


_CLASS_NAMES = sorted(cls.__name__ for cls in BUILTIN_COSTS)


def _cost_name(value):
    """The class name of the built-in cost ``value`` names or is (a class or an instance)."""
    if isinstance(value, str):
        try:
            return cost_by_name(value).__name__
        except ValueError:
            raise ValueError("configuration key 'cost': unknown cost {!r}; known costs: {}, or by "
                             "their command-line names {}".format(
                                 value, ", ".join(_CLASS_NAMES), ", ".join(COST_NAMES))) from None
    if inspect.isclass(value) or hasattr(value, "fn"):  # a cost class, or an instance of one
        cls = value if inspect.isclass(value) else type(value)
        if cls in BUILTIN_COSTS:
            return cls.__name__
    raise ValueError("configuration key 'cost': {!r} is not a cost cnet can record; expected one of "
                     "{}".format(value, ", ".join(_CLASS_NAMES)))


def normalize(config):
    """The configuration ``config`` in its canonical form: unknown keys refused
    (``ValueError`` naming them), the sweep's own keys filled in from
    ``DEFAULTS``, the cost by name, numbers as JSON holds them, and every other
    key left out when it equals its default in ``network2`` -- so that two
    configurations that train the same run are equal dicts."""
    if not isinstance(config, dict):
        raise TypeError("a configuration must be a dict, got {!r}".format(config))
    init, sgd = parameters()
    signature = dict(init, **sgd)
    allowed = set(DEFAULTS) | set(signature)
    unknown = sorted(set(config) - allowed)
    if unknown:
        reserved = [k for k in unknown if k in RESERVED]
        if reserved:
            raise ValueError("configuration key {!r} is set by the sweep itself, not by a "
                             "configuration".format(reserved[0]))
        raise ValueError("unknown configuration key{} {}; expected some of: {}".format(
            "s" if len(unknown) > 1 else "", ", ".join(map(repr, unknown)), ", ".join(keys())))
    out = dict(DEFAULTS)
    for name, value in config.items():
        value = _cost_name(value) if name == "cost" else _plain(name, value)
        if name == "eta" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        default = signature.get(name, inspect.Parameter.empty)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)                       # lmbda=5 is lmbda=5.0
        if name not in DEFAULTS and default is not inspect.Parameter.empty and _same(value, default):
            out.pop(name, None)                         # a default is not part of a run's identity
            continue
        out[name] = value
    _check_own_keys(out)
    return out


def _same(value, default):
    """Whether ``value`` is the parameter's ``default`` (as recorded: np.float64 is "float64")."""
    try:
        default = _plain("", default)
    except ValueError:
        return False
    return type(value) is type(default) and value == default or (
        isinstance(value, (int, float)) and not isinstance(value, bool)
        and isinstance(default, (int, float)) and not isinstance(default, bool) and value == default)


def _check_own_keys(config):
    sizes = config["sizes"]
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)):
        raise ValueError("configuration key 'sizes': expected a list of at least two positive "
                         "widths such as [784, 30, 10], got {!r}".format(sizes))
    check_mnist_sizes(sizes, "configuration key 'sizes'")
    for name in ("epochs", "seed"):
        v = config[name]
        if not isinstance(v, int) or isinstance(v, bool) or v < (1 if name == "epochs" else 0):
            raise ValueError("configuration key {!r}: expected an integer >= {}, got {!r}".format(
                name, 1 if name == "epochs" else 0, v))
    n = config["n_train"]
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError("configuration key 'n_train': expected a positive integer or None "
                         "(all the training images), got {!r}".format(n))
    if config["evaluate_on"] not in EVALUATE_ON:
        raise ValueError("configuration key 'evaluate_on': expected one of {}, got {!r}".format(
            EVALUATE_ON, config["evaluate_on"]))


def _arguments(config):
    """``(init, sgd)``: the keyword arguments of ``network2.Network`` and of its ``SGD``
    for a normalized configuration."""
    init_names, sgd_names = parameters()
    init = {k: v for k, v in config.items() if k in init_names}
    sgd = {k: v for k, v in config.items() if k in sgd_names}
    init["cost"] = cost_by_name(config["cost"])
    init["seed"] = config["seed"]
    return init, sgd


def _dry_run(config):
    """Build the configuration's network and call its SGD for 0 epochs on one blank
    example: network2 checks every value, and nothing trains."""
    init, sgd = _arguments(config)
    try:
        net = network2.Network(num_threads=1, **init)
        x = np.zeros((config["sizes"][0], 1))
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD([(x, network2.vectorized_result(0))], **dict(sgd, epochs=0),
                    evaluation_data=[(x, 0)], monitor_evaluation_accuracy=True,
                    monitor_evaluation_cost=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError("configuration {}: {}".format(identity(config), exc)) from None


def check(configurations):
    """The configurations, normalized and checked by network2 itself, without
    duplicates, in their order; a ``ValueError`` for the first that is wrong, or
    for an empty list."""
    if isinstance(configurations, dict):
        configurations = grid(**configurations)
    configurations = list(configurations)
    if not configurations:
        raise ValueError("no configurations: the sweep is empty")
    seen, out = set(), []
    for config in configurations:
        config = normalize(config)
        key = identity(config)
        if key not in seen:
            seen.add(key)
            _dry_run(config)
            out.append(config)
    return out
