"""network.py, chapter 1 of *Neural Networks and Deep Learning*, compiled.

A drop-in for the book's module: ``from cnet import network`` and
``network.Network([784, 30, 10])`` behave as the original, with the same
initial parameters and shuffles for the same seeds, and train much faster.
It is the shared engine (``cnet._engine``) with dense sigmoid layers
(``cnet.layers``), the quadratic cost, no regularisation and the N(0, 1)
initialisation.
"""
import types

import numpy as np

from cnet import _checks
from cnet._engine import Engine
from cnet.functions import QuadraticCost, sigmoid, sigmoid_prime

__all__ = ["Network", "sigmoid", "sigmoid_prime"]


# The methods the book's code calls (SGD → update_mini_batch → backprop →
# cost_derivative; SGD → evaluate → feedforward): a subclass's override of any of
# them is called where and as often as the book calls it.  Each maps to what the
# override costs (None: nothing worth a warning).
HOOKS = {
    "update_mini_batch": "SGD calls it for every mini-batch from Python (cnet's own "
                         "update_mini_batch, if it calls that, stays compiled)",
    "backprop": "update_mini_batch calls it for every example from Python, at about the "
                "book's speed",
    "cost_derivative": "backprop runs the book's code in NumPy to call it for every "
                       "example, at about the book's speed",
    "feedforward": "evaluate calls it for every example from Python, at about the book's speed",
    "evaluate": None,
}


class Network(Engine, hooks=HOOKS,
              training_hooks=("update_mini_batch", "backprop", "cost_derivative")):
    """A network of sigmoid neurons with layer widths ``sizes``, e.g. [784, 30, 10].

    Biases and weights start as standard normals drawn from ``np.random`` in
    the book's order (all biases, then all weights), or from
    ``numpy.random.default_rng(seed)`` when ``seed`` is given; that Generator
    then also shuffles the training data.  ``backend`` is "cython", "numpy",
    or None (the ``CNET_BACKEND`` environment variable, else the compiled
    kernels when built).  ``dtype=np.float32`` holds the parameters and does the
    arithmetic in single precision (not bit-faithful to the book).
    ``num_threads`` threads share each epoch's work (default: the
    ``CNET_NUM_THREADS`` environment variable, else 1); the results are the
    same bits for any number.
    """

    def __init__(self, sizes, seed=None, backend=None, dtype=np.float64, num_threads=None):
        super().__init__(sizes, cost=QuadraticCost, seed=seed, backend=backend, dtype=dtype,
                         num_threads=num_threads)
        self._initialize("large")

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train by mini-batch stochastic gradient descent.

        ``training_data`` is a list of (x, y) pairs, shuffled in place at the
        start of every epoch.  If ``test_data`` (a list of (x, label) pairs) is
        given, each epoch ends by printing how many test images are classified
        correctly, else by ``Epoch j complete``.  Returns None.
        """
        if test_data:
            test_data = _checks.as_list("test_data", test_data)
            X_test, labels = self._examples("test_data", test_data, labels=True)

        python_evaluate = self._in_python("evaluate", "feedforward")
        if python_evaluate:
            self._announce(stacklevel=3)

        def report(epoch, X, Y):
            if test_data:
                correct = self.evaluate(test_data) if python_evaluate else self._correct(X_test, labels)
                print("Epoch {0}: {1} / {2}".format(epoch, correct, len(test_data)))
            else:
                print("Epoch {0} complete".format(epoch))

        self._sgd(training_data, epochs, mini_batch_size, eta, 0.0, report,
                  step=lambda mini_batch: self.update_mini_batch(mini_batch, eta))

    def update_mini_batch(self, mini_batch, eta):
        """Apply one gradient-descent step, by backpropagation, to the (x, y) pairs
        of ``mini_batch`` with learning rate ``eta``."""
        self._update_mini_batch(mini_batch, eta, 0.0, 1.0)  # n only scales λ, which is 0

    def evaluate(self, test_data):
        """Return the number of (x, label) pairs in ``test_data`` for which the
        network's output neuron with the highest activation is ``label``."""
        test_data = _checks.as_list("test_data", test_data)
        if self._in_python("feedforward"):
            self._check_for_python("test_data", test_data, labels=True)
            return self._book_correct(test_data, convert=False)
        X, labels = self._examples("test_data", test_data, labels=True, once=True)
        return self._correct(X, labels)

    def cost_derivative(self, output_activations, y):
        """Return the vector of partial derivatives ∂C_x/∂a for the output activations."""
        return output_activations - y

    def _output_error(self):
        if "cost_derivative" in self._overrides:
            cost_derivative = self.cost_derivative
            # the book's backprop: δ_L = cost_derivative(a_L, y) ⊙ σ'(z_L)
            return types.SimpleNamespace(delta=lambda z, a, y: cost_derivative(a, y) * sigmoid_prime(z)), True
        return super()._output_error()
