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


def vectorized_result(j):
    """A (10, 1) one-hot column: 1.0 in row j, zeros elsewhere."""
    e = np.zeros((10, 1))
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


# The costs the compiled kernels compute (the kernels' ``supports`` says which of
# these they know); a new compiled cost is added here.
BUILTIN_COSTS = (QuadraticCost, CrossEntropyCost)
_BUILTIN_HOOKS = frozenset(["fn", "delta"])   # what a user's cost may define for itself

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
