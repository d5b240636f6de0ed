"""The book's algorithm in Python, run around a subclass's overrides of the book's methods."""
import contextlib
import warnings
import weakref

import numpy as np

from cnet._kernels import numpy_kernels
from cnet.functions import builtin_cost, vectorized_result

_warned_classes = weakref.WeakSet()    # network classes already reported as leaving the compiled path


def book_step(weights, biases, nabla_w, nabla_b, eta, lmbda, n, m, dtype):
    """The book's update_mini_batch step from the gradients summed over a mini-batch
    of ``m`` examples: w ← (1 − ηλ/n) w − (η/m) ∇w, b ← b − (η/m) ∇b (the kernels'
    one update rule, ``numpy_kernels.update``), as new arrays in ``dtype``; returns
    ``(weights, biases)``."""
    new_weights = [numpy_kernels.update(w, nw, m, eta, lmbda, n)[0].astype(dtype, copy=False)
                   for w, nw in zip(weights, nabla_w)]
    new_biases = [numpy_kernels.update(b, nb, m, eta, lmbda, n, penalized=False)[0].astype(dtype, copy=False)
                  for b, nb in zip(biases, nabla_b)]
    return new_weights, new_biases


class BookPath:
    """Which of the book's methods a class overrides (``_overrides``, decided once
    per class by ``Engine.__init_subclass__``), and the book's code that calls
    them: each overridden method is called where and as often as the book calls
    it, on ``self.weights``/``self.biases`` as they are; everything else the
    book's code computes comes from the NumPy reference kernels."""

    _trusted = 0               # > 0 inside the book's Python code, after its inputs were checked

    def _announce(self, stacklevel=4):
        """Warn, once per class, which overridden methods move work off the compiled
        path and what that costs."""
        cls = type(self)
        costly = sorted(name for name in self._overrides if self.HOOKS[name])
        if costly and cls not in _warned_classes:
            _warned_classes.add(cls)
            warnings.warn("cnet: {} overrides {}; cnet calls {} where the book's code does, "
                          "and compiles the rest: {}".format(
                              cls.__name__, ", ".join(costly),
                              "it" if len(costly) == 1 else "them",
                              "; ".join("{}: {}".format(name, self.HOOKS[name]) for name in costly)),
                          stacklevel=stacklevel)

    @contextlib.contextmanager
    def _trusting(self):
        """Inside: the book's code runs on ``self.weights``/``self.biases`` as they are,
        without checking again what the outermost call checked."""
        self._trusted += 1
        try:
            yield
        finally:
            self._trusted -= 1

    def _in_python(self, *hooks):
        """True when this class overrides one of ``hooks`` (names in HOOKS)."""
        return not self._overrides.isdisjoint(hooks)

    def _check_for_python(self, name, data, labels):
        """Before the book's code runs on ``data`` from a public method: check it and
        the parameters (unless an outer call has), and say what runs in Python."""
        if not self._trusted:
            self._examples(name, data, labels=labels)
            self._params()
            self._announce()

    def _output_error(self):
        """``(cost, users)``: the object whose ``delta(z, a, y)`` is the output layer's
        error δ_L in the book's backprop, and whether that is the user's own code
        (then the book's backprop runs, calling it once per example)."""
        return self._kernel_cost(), builtin_cost(self.cost) is None

    def _book_backprop(self, x, y):
        """The book's backprop for the one example (x, y) on ``self.weights`` and
        ``self.biases`` as they are: the NumPy reference's, with the output error
        of ``_output_error``.  Returns ``(nabla_b, nabla_w)``."""
        return numpy_kernels.backprop(self.weights, self.biases, x, y, self._output_error()[0],
                                      **self._kernel_layers())

    def _book_feedforward(self, a):
        """The output for the column(s) ``a`` on ``self.weights``/``self.biases`` as they are."""
        return numpy_kernels._output(self.weights, self.biases, a, **self._kernel_layers())

    def _book_update(self, mini_batch, eta, lmbda, n):
        """The book's update_mini_batch: ∇ = Σ self.backprop(x, y) over the mini-batch
        (the NumPy reference's backprop when ``backprop`` is not overridden), then
        ``book_step``."""
        if "backprop" in self._overrides:
            backprop = self.backprop
        else:
            output_error, kernel_layers = self._output_error()[0], self._kernel_layers()

            def backprop(x, y):
                return numpy_kernels.backprop(self.weights, self.biases, x, y, output_error,
                                              **kernel_layers)
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights, self.biases = book_step(self.weights, self.biases, nabla_w, nabla_b, eta,
                                              lmbda, n, len(mini_batch), self.dtype)

    def _book_correct(self, data, convert):
        """The book's evaluate/accuracy: how many of ``data`` have
        argmax(self.feedforward(x)) equal to the label (``argmax(y)`` if ``convert``)."""
        with self._trusting():
            if convert:
                results = [(np.argmax(self.feedforward(x)), np.argmax(y)) for x, y in data]
            else:
                results = [(np.argmax(self.feedforward(x)), y) for x, y in data]
        return sum(int(x == y) for x, y in results)

    def _book_total_cost(self, data, lmbda, convert, regularization="L2"):
        """The book's total_cost: Σ cost.fn(self.feedforward(x), y) / len(data) plus
        ½(λ/len(data)) Σ‖w‖² (L2) or (λ/len(data)) Σ|w| (L1)."""
        cost = 0.0
        with self._trusting():
            for x, y in data:
                a = self.feedforward(x)
                if convert:
                    y = vectorized_result(y, self.sizes[-1])
                cost += self.cost.fn(a, y) / len(data)
        if regularization == "L1":
            cost += (lmbda / len(data)) * sum(np.sum(np.abs(w)) for w in self.weights)
        else:
            cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        return cost
