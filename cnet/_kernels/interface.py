"""The kernel interface, written down once: what ``numpy_kernels`` and each compiled
module (``_interface.pxi``) provide, with the same parameters (tests/test_plan.py
holds both to it).

``spec`` is a tuple of ``spec.LayerSpec``, input layer first, that the weights and
biases fit (``spec.check``, at each function's start: a ValueError names the
layer and the shapes).  ``weights[l]`` and ``biases[l]`` are layer l's parameters
(dense: (n_out, n_in) and (n_out, 1)), all float64 or all float32; ``X`` is what
``prepare`` made, one example per row; ``Y`` one desired output per row, float64;
``cost`` a class with static ``fn(a, y)`` and ``delta(z, a, y)``.  ``train`` takes
chapter 3's options: ``regularization`` "L2" or "L1", momentum ``mu`` with
``velocities`` ``(vw, vb)`` shaped like the weights and biases (updated in place).
"""
from typing import Protocol


class Kernels(Protocol):
    """One implementation of the kernels (a module: ``self`` is not a parameter)."""

    NAME: str

    def supports(self, cost):
        """True when these kernels compute ``cost``."""

    def prepare(self, X):
        """The inputs (an (m, n_in) array, or ``cnet._checks.InputRows``) as the other
        functions take them."""

    def feedforward(self, weights, biases, X, *, spec):
        """The output activations for each row of X: an (m, n_out) array."""

    def predict(self, weights, biases, X, *, spec):
        """The argmax of each row's output activations (the first maximum on ties)."""

    def backprop(self, weights, biases, x, y, cost, *, spec):
        """``(nabla_b, nabla_w)``: the gradient of ``cost`` for the one example (x, y),
        lists shaped like ``biases`` and ``weights``."""

    def train(self, weights, biases, X, Y, order, mini_batch_size, eta, lmbda, n, cost,
              num_threads=1, *, spec, regularization="L2", mu=0.0, velocities=None):
        """SGD over the mini-batches order[0:s], order[s:2s], … (s = mini_batch_size),
        updating ``weights``, ``biases`` (and ``velocities``) in place."""

    def cost_and_predict(self, weights, biases, X, Y, cost, num_threads=1, *, spec):
        """``(cost_sum(...), predict(...))``; with ``Y`` None, the sum is 0.0."""

    def cost_sum(self, weights, biases, X, Y, cost, *, spec):
        """Σ over the rows of X of cost.fn(a_L, y): the unregularised total cost."""

    # chapter 6's layers (network3), over arrays of a mini-batch's examples; ``threads``:
    # how many threads the compiled kernels share the call among (any count, the same bits)
    def conv_forward(self, x, filters, threads=1):
        """Theano's valid, flipped convolution of x (m, c, H, W) with filters (f, c, h, w):
        an (m, f, H − h + 1, W − w + 1) array."""

    def conv_backward(self, x, filters, delta, need_input=True, threads=1):
        """``(∂C/∂filters summed over the examples, ∂C/∂x or None)`` given ∂C/∂out."""

    def pool_forward(self, a, pool, threads=1):
        """The maximum of each non-overlapping ``pool`` window of a (m, f, Y, X), the
        rows and columns that fill no window left out."""

    def pool_backward(self, a, pooled, delta, pool, threads=1):
        """∂C/∂a given ∂C/∂pooled: each window's gradient to every input equal to its maximum."""

    def matmul(self, A, B, threads=1):
        """A @ B for 2-D arrays (M, K) and (K, N)."""

    def moved(self, p, grad, step, decay=None):
        """A new array p − step · (grad + decay · p), or p − step · grad without
        ``decay``: per entry a multiply, an add, a multiply and a subtract in that order,
        in p's dtype."""

    def dropout_keep(self, seed, step, examples, units, p):
        """The (len(examples), units) boolean mask of the units kept at ``step``: a
        function of (seed, step, example, unit) alone, the same bits in both
        implementations."""


FUNCTIONS = ("supports", "prepare", "feedforward", "predict", "backprop", "train",
             "cost_and_predict", "cost_sum", "conv_forward", "conv_backward", "pool_forward",
             "pool_backward", "matmul", "moved", "dropout_keep")
