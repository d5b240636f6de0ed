"""The book's mathematical functions and cost classes, shared by every module.

``network`` and ``network2`` re-export these names, so ``network2.CrossEntropyCost``
and ``network.sigmoid`` are the objects defined here.
"""
import weakref

import numpy as np


def sigmoid(z):
    """The sigmoid function σ(z) = 1 / (1 + e^{−z}), elementwise."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function: σ'(z) = σ(z)(1 − σ(z))."""
    return sigmoid(z) * (1 - sigmoid(z))


def tanh(z):
    """The hyperbolic tangent tanh(z) = (e^z − e^{−z}) / (e^z + e^{−z}), elementwise."""
    return np.tanh(z)


def tanh_prime(z):
    """Derivative of tanh: tanh'(z) = 1 − tanh²(z)."""
    return 1 - np.tanh(z) ** 2


def relu(z):
    """The rectified linear function max(0, z), elementwise."""
    return np.maximum(z, 0)


def relu_prime(z):
    """Derivative of max(0, z): 1 where z > 0, else 0 (0 at z = 0 itself)."""
    return (np.asarray(z) > 0).astype(np.result_type(z, np.float32))


def softmax(z):
    """The softmax of each column of z: a_j = e^{z_j} / Σ_k e^{z_k}, computed as
    e^{z_j − m} / Σ_k e^{z_k − m} with m = max_k z_k, so that no exponential
    overflows (the largest term is e^0 = 1 and the sum is at least 1)."""
    z = np.asarray(z)
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


# The hidden-layer activations, by the name Network(..., activation=...) takes:
# (f, f') with f' a function of the weighted input z.  The output layer's
# activation is the cost's (its ``output`` attribute: "sigmoid" or "softmax").
ACTIVATIONS = {"sigmoid": (sigmoid, sigmoid_prime),
               "tanh": (tanh, tanh_prime),
               "relu": (relu, relu_prime)}
OUTPUTS = {"sigmoid": sigmoid, "softmax": softmax}


def output_of(cost):
    """The output layer's activation for ``cost``: its ``output`` attribute,
    "softmax" for ``LogLikelihoodCost``, else the book's "sigmoid"."""
    return getattr(cost, "output", "sigmoid")


def vectorized_result(j, n=10):
    """An (n, 1) one-hot column, (10, 1) as in the book: 1.0 in row j, zeros elsewhere."""
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


class QuadraticCost:
    """The quadratic cost C = ½‖a − y‖²."""

    @staticmethod
    def fn(a, y):
        """The cost of output ``a`` against the desired output ``y``."""
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """The output layer's error δ_L = (a − y) ⊙ σ'(z)."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """The cross-entropy cost C = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]."""

    @staticmethod
    def fn(a, y):
        """The cost of output ``a`` against ``y``; ``nan_to_num`` turns the 0·ln 0 of a
        saturated output into 0 (and an infinite cost into the largest float)."""
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """The output layer's error δ_L = a − y (σ' cancels; ``z`` is unused)."""
        return a - y


# The smallest positive normal float64: LogLikelihoodCost.fn takes ln of at least
# this, so that an output whose a_y has underflowed to 0 costs −ln(2.2e−308) ≈ 708.4
# instead of +inf.
TINY = np.finfo(np.float64).tiny


class LogLikelihoodCost:
    """The log-likelihood cost C = −ln a_y of a softmax output layer
    (a_j = e^{z_j} / Σ_k e^{z_k}), y being the desired digit: for a one-hot
    column y, C = −Σ_j y_j ln a_j.

    ``output = "softmax"``: a network with this cost has a softmax output layer,
    so that ``feedforward`` returns probabilities (each column sums to 1).
    """

    output = "softmax"

    @staticmethod
    def fn(a, y):
        """The cost of output ``a`` against ``y``: −Σ_j y_j ln a_j, in float64.  An a_j
        that has underflowed to 0 counts as the smallest normal float64, so that a
        saturated output costs a large finite number (at most about 708.4 per unit of
        y_j) instead of +inf, and 0 · ln 0 is 0.  (``fn`` is given a only, not z; the
        exact −ln a_y = −(z_y − max z − ln Σ_k e^{z_k − max z}) would need z.)"""
        a = np.asarray(a, dtype=np.float64)
        return float(-np.sum(np.asarray(y, dtype=np.float64) * np.log(np.maximum(a, TINY))))

    @staticmethod
    def delta(z, a, y):
        """The output layer's error δ_L = a − y (for softmax with −ln a_y; z unused)."""
        return a - y


# The costs the compiled kernels compute (the kernels' ``supports`` says which of
# these they know); a new compiled cost is added here.
BUILTIN_COSTS = (QuadraticCost, CrossEntropyCost, LogLikelihoodCost)
_BUILTIN_HOOKS = frozenset(["fn", "delta"])   # what a user's cost may define for itself
# The one table of the built-in costs' names: the command line's (the keys), and
# each class's own name, which ``save`` writes and ``load`` reads.
COST_NAMES = {"quadratic": QuadraticCost, "cross-entropy": CrossEntropyCost,
              "log-likelihood": LogLikelihoodCost}
_COST_BY_NAME = dict(COST_NAMES, **{cls.__name__: cls for cls in BUILTIN_COSTS},
                     **{"crossentropy": CrossEntropyCost, "loglikelihood": LogLikelihoodCost})


def cost_by_name(name, argument="cost"):
    """The built-in cost class that ``name`` names: a command-line name
    ("cross-entropy"), a class name ("CrossEntropyCost"), either in any case.
    An unknown name raises ValueError naming ``argument`` and the known names."""
    if isinstance(name, str):
        found = _COST_BY_NAME.get(name) or next(
            (cls for key, cls in _COST_BY_NAME.items() if key.lower() == name.lower()), None)
        if found is not None:
            return found
    raise ValueError("{}: unknown cost {!r}; expected one of {} (or a cost class)".format(
        argument, name, ", ".join(list(COST_NAMES) + [cls.__name__ for cls in BUILTIN_COSTS])))

_builtin_of_class = weakref.WeakKeyDictionary()


def builtin_cost(cost):
    """The class in ``BUILTIN_COSTS`` whose cost ``cost`` computes, or None.

    ``cost`` is a cost class or an instance of one (the book's figure scripts
    pass ``CrossEntropyCost()``).  It computes a built-in cost when its class is
    one of ``BUILTIN_COSTS`` or a subclass of one that overrides neither ``fn``
    nor ``delta``; a subclass that overrides either, any other class, and an
    instance given its own ``fn`` or ``delta`` are the user's own costs.  The
    answer is worked out once per class and remembered.
    """
    cls = cost if isinstance(cost, type) else type(cost)
    if cls is not cost and not _BUILTIN_HOOKS.isdisjoint(getattr(cost, "__dict__", ())):
        return None
    try:
        return _builtin_of_class[cls]
    except KeyError:
        pass
    found = None
    for base in cls.__mro__:
        if base in BUILTIN_COSTS:
            if all(getattr(cls, name) is getattr(base, name) for name in _BUILTIN_HOOKS):
                found = base
            break
    _builtin_of_class[cls] = found
    return found


def overridden_cost_methods(cost):
    """For a user's cost that subclasses a built-in one: ``"CrossEntropyCost.delta"``
    and the like, for each of ``fn``/``delta`` it overrides; else an empty list."""
    cls = cost if isinstance(cost, type) else type(cost)
    base = next((c for c in cls.__mro__ if c in BUILTIN_COSTS), None)
    if base is None:
        return []
    return ["{}.{}".format(base.__name__, name) for name in sorted(_BUILTIN_HOOKS)
            if getattr(cost, name) is not getattr(base, name)]
