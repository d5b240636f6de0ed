"""The book's mathematical functions and cost classes, shared by every module.

``network`` and ``network2`` re-export these names, so ``network2.CrossEntropyCost``
and ``network.sigmoid`` are the objects defined here.
"""
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
