"""The one engine behind ``network.Network`` and ``network2.Network``.

It owns the parameters the user sees (``sizes``, ``weights``, ``biases``,
``cost``), checks every argument once (``cnet._checks``), draws the
initialisation and the shuffles from the same random sources as the book's
code, and runs all arithmetic through one kernel interface
(``cnet._kernels``): the compiled kernels, or the pure-NumPy ones.

Parameters are read from ``self.weights``/``self.biases`` at the start of every
call, so whatever the user assigned there is honoured, and written back as new
float64 arrays when the call's work is done; a call that raises has changed
nothing.

Subclasses that override the book's methods: which of the hook methods
(``HOOKS``, named by ``network``/``network2``) a class overrides is worked out
once, when the class is created (``__init_subclass__``, as CPython's
``random.Random`` picks its ``_randbelow``), and kept in ``_overrides``.  A
class that overrides none of them runs the compiled path only.  Otherwise the
book's own algorithm runs in Python around the overrides (``_sgd``'s Python
epoch loop, ``_book_update``, ``_gradient``, the ``_book_*`` measures),
calling each method where and as often as the book does, and the compiled
kernels wherever the method called is not overridden.
"""
import contextlib
import json
import os
import random
import tempfile
import warnings
import weakref

import numpy as np

from cnet import _checks, _kernels
from cnet._kernels import numpy_kernels
from cnet._kernels.spec import dense_chain
from cnet.functions import (ACTIVATIONS, OUTPUTS, builtin_cost, output_of,
                            overridden_cost_methods, vectorized_result)

REGULARIZATIONS = ("L2", "L1")

_warned_costs = weakref.WeakSet()      # cost classes already reported as not compiled
_warned_classes = weakref.WeakSet()    # network classes already reported as leaving the compiled path
_fast_shuffle = []


def _fast_shuffle_ok():
    """True when the compiled shuffle reproduces ``random.shuffle`` here: the
    extension ``_kernels.common`` is built, ``random.shuffle`` is the standard
    Mersenne Twister's, and a trial on a private generator (made once) gives the
    same permutation."""
    shuffle = random.shuffle
    if _kernels.common is None or type(getattr(shuffle, "__self__", None)) is not random.Random:
        return False
    if not _fast_shuffle:
        trial = random.Random(20261122)
        state = trial.getstate()
        perm, after = _kernels.common.shuffle_permutation(1000, state)
        expected = list(range(1000))
        trial.shuffle(expected)
        _fast_shuffle.append(perm.tolist() == expected and after == trial.getstate())
    return _fast_shuffle[0]


class Engine:
    """A feedforward network trained by mini-batch SGD (see the subclasses): sigmoid
    neurons, or ``activation`` ("tanh", "relu") in the hidden layers; the output
    layer's activation is the cost's (``cnet.functions.output_of``).

    Momentum (``mu`` > 0) keeps one velocity per weight and bias in
    ``self._velocity``, across calls: they start at zero, and start at zero again
    whenever ``net.weights`` or ``net.biases`` (the lists or an array in them)
    has been replaced since the last step; they are not saved by ``save``.
    """

    # The book's methods that its own code calls, and so a subclass may override to
    # change training (``hooks=`` in network/network2's class statements): for each,
    # what an override costs, or None when it costs nothing worth a warning.
    HOOKS = {}
    # the hooks whose override moves the training itself (not only its monitors) to Python
    TRAINING_HOOKS = frozenset()
    _overrides = frozenset()   # which HOOKS this class overrides: decided once per class
    _trusted = 0               # > 0 inside the book's Python code, after its inputs were checked

    def __init_subclass__(cls, hooks=None, training_hooks=(), **kwargs):
        super().__init_subclass__(**kwargs)
        if hooks is not None:
            # one of cnet's own classes: its methods are the compiled ones
            cls.HOOKS, cls.TRAINING_HOOKS = dict(hooks), frozenset(training_hooks)
            cls._compiled_class = cls
            cls._overrides = frozenset()
        elif cls.HOOKS:
            own = cls._compiled_class
            cls._overrides = frozenset(name for name in cls.HOOKS
                                       if getattr(cls, name) is not getattr(own, name))

    def __init__(self, sizes, cost, seed=None, backend=None, dtype=np.float64, num_threads=None,
                 activation="sigmoid"):
        self.sizes = _checks.sizes(sizes)
        self.num_threads = _checks.num_threads(num_threads)
        self.activation = _checks.choice("activation", activation, tuple(ACTIVATIONS))
        self.num_layers = len(self.sizes)
        self.cost = cost
        self.seed = seed
        self.dtype = _kernels.dtype_of(dtype)
        _checks.fits_in_memory(self.sizes, self.dtype)
        self._rng = _checks.rng(seed)
        self._kernels = _kernels.get(backend, self.dtype)
        self.backend = self._kernels.NAME

    def __getstate__(self):
        # a network pickles (and deep-copies) as its data; the kernel module is looked up again
        state = dict(self.__dict__)
        del state["_kernels"]
        state.pop("_trusted", None)
        state.pop("_packed_inputs", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("num_threads", 1)       # pickled before there was a choice
        self.__dict__.setdefault("activation", "sigmoid")
        self._kernels = _kernels.get(self.backend, self.dtype)

    # ------------------------------------------------------ random draws
    def _randn(self, *shape, divisor=None):
        """Standard normals of ``shape`` from ``np.random`` (or the seed's Generator),
        divided by ``divisor`` if given -- in float64, as the book computes them --
        then held in the network's dtype."""
        if self._rng is None:
            draws = np.random.randn(*shape)
        else:
            draws = self._rng.standard_normal(shape)
        if divisor is not None:
            draws = draws / divisor
        return draws.astype(self.dtype, copy=False)

    def _permutation(self, n):
        """The permutation that ``random.shuffle`` (or the seed's Generator) applies to
        a list of ``n`` items, as an array: shuffling ``data`` equals
        ``[data[i] for i in perm]``.  Draws exactly what the shuffle itself would."""
        if self._rng is not None:
            # Generator.shuffle of the list range(n) -- the same draws, in C (0.6 ms
            # for 50,000 rather than 4)
            return self._rng.permutation(n).astype(np.intp, copy=False)
        if _fast_shuffle_ok():
            perm, state = _kernels.common.shuffle_permutation(n, random.getstate())
            random.setstate(state)
            return perm
        perm = list(range(n))
        random.shuffle(perm)
        return np.asarray(perm, dtype=np.intp)

    def _shuffle(self, data):
        """Shuffle the list ``data`` in place as ``random.shuffle`` (or the seed's
        Generator) would, all at once; return the permutation applied (``data``
        is now ``[old_data[i] for i in perm]``)."""
        perm = self._permutation(len(data))
        if _kernels.common is not None and type(data) is list:
            _kernels.common.permute_list(data, perm)    # moves the list's slots, in C
        else:
            data[:] = [data[i] for i in perm.tolist()]
        return perm

    # ------------------------------------------------------ the boundary
    def _params(self):
        """Checked copies of the weights and biases in the network's dtype, as two lists."""
        n_layers = len(self.sizes) - 1
        for name in ("weights", "biases"):
            value = getattr(self, name, None)
            if not isinstance(value, (list, tuple)) or len(value) != n_layers:
                raise ValueError("net.{} must be a list of {} arrays for sizes {}".format(
                    name, n_layers, self.sizes))
        weights, biases = [], []
        for l, (x, y) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            w = _checks.array("net.weights[{}]".format(l), self.weights[l], (y, x))
            b = _checks.array("net.biases[{}]".format(l), self.biases[l], (y, 1))
            weights.append(_checks.finite("net.weights[{}]".format(l), np.array(w, self.dtype)))
            biases.append(_checks.finite("net.biases[{}]".format(l), np.array(b, self.dtype)))
        return weights, biases

    def _publish(self, weights, biases):
        self.weights = [w.copy() for w in weights]
        self.biases = [b.copy() for b in biases]

    def _layers(self):
        """The kernels' keyword argument describing the layers: ``spec``, the dense chain of
        ``self.sizes`` with ``self.activation`` (checked: the user may have assigned it)
        in the hidden layers and the output layer's activation, which the cost decides."""
        activation = _checks.choice("net.activation", self.activation, tuple(ACTIVATIONS))
        return {"spec": dense_chain(self.sizes, activation, output_of(self.cost))}

    @property
    def velocities(self):
        """The momentum velocities ``(vw, vb)``, lists of arrays shaped like ``weights``
        and ``biases`` (copies), or None when there are none: before training with
        ``mu`` > 0, or after the weights or biases were replaced."""
        v = self._current_velocities()
        return None if v is None else ([a.copy() for a in v[0]], [a.copy() for a in v[1]])

    def _current_velocities(self):
        """The velocities that go with ``self.weights``/``self.biases`` as they are, or None."""
        kept = self.__dict__.get("_velocity")
        if kept is None:
            return None
        weights, biases, arrays, velocities = kept
        current = getattr(self, "weights", None), getattr(self, "biases", None)
        if current[0] is not weights or current[1] is not biases or \
                any(a is not b for a, b in zip(list(weights) + list(biases), arrays)) or \
                len(arrays) != len(weights) + len(biases):
            return None
        return velocities

    def _keep_velocities(self, velocities):
        """Remember ``velocities`` as those of the weights and biases just published."""
        self._velocity = (self.weights, self.biases, list(self.weights) + list(self.biases), velocities)

    def _threads(self):
        """``self.num_threads``, checked (the user may have assigned it)."""
        return _checks.threads("net.num_threads", self.num_threads)

    def _kernel_cost(self):
        """The cost as the kernels take it: the built-in cost class that ``self.cost``
        computes (``self.cost`` may be an instance of it), else ``self.cost`` itself."""
        return builtin_cost(self.cost) or self.cost

    def _kernels_for_cost(self):
        """The kernel module that computes ``self.cost``: the chosen backend's, or
        NumPy's for a cost the compiled kernels do not know."""
        cost = self.cost
        if not (callable(getattr(cost, "fn", None)) and callable(getattr(cost, "delta", None))):
            raise TypeError("cost must be a class with static methods fn(a, y) and "
                            "delta(z, a, y), or an instance of one, got {!r}".format(cost))
        if self._kernels.supports(self._kernel_cost()):
            return self._kernels
        cls = cost if isinstance(cost, type) else type(cost)
        if cls not in _warned_costs:
            _warned_costs.add(cls)
            name = cls.__name__ if cls is cost else cls.__name__ + "()"
            overrides = overridden_cost_methods(cost)
            warnings.warn("cnet: cost {}{} is not compiled; this network trains through the "
                          "NumPy kernels, at about the book's speed".format(
                              name, " (it overrides {})".format(", ".join(overrides))
                              if overrides else ""), stacklevel=3)
        return numpy_kernels

    # ------------------------------------------------------ overridden methods
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
                              "; ".join("{}: {}".format(n, self.HOOKS[n]) for n in costly)),
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
        """``(delta, users)``: the function δ_L = delta(z, a, y) that the book's backprop
        uses at the output layer, and whether it is the user's own code (then it is
        called once per example, as the book calls it)."""
        return self._kernel_cost().delta, builtin_cost(self.cost) is None

    def _gradient(self, xs, ys):
        """``(nabla_b, nabla_w)``: the gradient of the cost summed over the examples
        (xs[k], ys[k]), lists shaped like ``biases`` and ``weights``, on
        ``self.weights``/``self.biases`` as they are.  The book's backprop with the
        examples as the columns of one matrix (chapter 2's problem): for one
        example it is exactly the book's; for a mini-batch it agrees to rounding."""
        delta_fn, users = self._output_error()
        f, f_prime = ACTIVATIONS[_checks.choice("net.activation", self.activation, tuple(ACTIVATIONS))]
        g = OUTPUTS[output_of(self.cost)]
        one = len(xs) == 1
        x = xs[0] if one else np.hstack(xs)
        # feedforward, keeping every z and a:  z_l = w_l a_{l−1} + b_l,  a_l = f(z_l)
        # (σ in the book; the output layer's activation is the cost's)
        activation, activations, zs = x, [x], []
        for l, (b, w) in enumerate(zip(self.biases, self.weights)):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = (g if l == len(self.weights) - 1 else f)(z)
            activations.append(activation)
        # output error δ_L; the user's code is called once per example, as the book does
        if one:
            delta = delta_fn(zs[-1], activations[-1], ys[0])
        elif users:
            delta = np.hstack([delta_fn(zs[-1][:, k:k + 1], activations[-1][:, k:k + 1], y)
                               for k, y in enumerate(ys)])
        else:
            delta = delta_fn(zs[-1], activations[-1], np.hstack(ys))
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        # backwards: δ_l = (w_{l+1}ᵀ δ_{l+1}) ⊙ f'(z_l);  ∂C/∂b_l = Σ δ_l,  ∂C/∂w_l = Σ δ_l a_{l−1}ᵀ
        for l in range(1, self.num_layers):
            if l > 1:
                delta = np.dot(self.weights[-l + 1].transpose(), delta) * f_prime(zs[-l])
            nabla_b[-l] = delta if one else delta.sum(axis=1, keepdims=True)
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def _book_update(self, mini_batch, eta, lmbda, n):
        """The book's update_mini_batch: ∇ = Σ self.backprop(x, y) over the mini-batch
        (or, when ``backprop`` is not overridden, the same sum with the mini-batch as
        one matrix), then w ← (1 − ηλ/n) w − (η/m) ∇w, b ← b − (η/m) ∇b as new arrays."""
        if "backprop" in self._overrides:
            nabla_b = [np.zeros(b.shape) for b in self.biases]
            nabla_w = [np.zeros(w.shape) for w in self.weights]
            for x, y in mini_batch:
                delta_nabla_b, delta_nabla_w = self.backprop(x, y)
                for nb, dnb in zip(nabla_b, delta_nabla_b):
                    nb += dnb
                for nw, dnw in zip(nabla_w, delta_nabla_w):
                    nw += dnw
        else:
            nabla_b, nabla_w = self._gradient([x for x, _ in mini_batch], [y for _, y in mini_batch])
        m = len(mini_batch)
        self.weights = [((1 - eta * (lmbda / n)) * w - (eta / m) * nw).astype(self.dtype, copy=False)
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [(b - (eta / m) * nb).astype(self.dtype, copy=False)
                       for b, nb in zip(self.biases, nabla_b)]

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
        ½(λ/len(data)) Σ‖w‖²."""
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

    def _compiled_pack(self):
        """The compiled kernels' one-pass check-and-pack of a list, or None where they
        are not this network's kernels (a cost they do not compile, the NumPy backend)."""
        pack = getattr(self._kernels, "pack", None)
        return pack if pack is not None and self._kernels.supports(self._kernel_cost()) else None

    def _examples(self, name, data, labels, once=False, refill=None):
        """``(inputs, T)`` for ``data``: the checked inputs prepared for the kernels,
        and the desired outputs (labels=False) or integer labels (labels=True).
        ``once``: the inputs are for one scan of labels, right away -- the compiled
        kernels then leave them in the caller's arrays (see their ``pack``).
        ``refill``: inputs an earlier pack made, for the compiled kernels to pack into."""
        pack = self._compiled_pack()
        if pack is not None:
            return pack(name, data, self.sizes[0], self.sizes[-1], labels, columns=once, refill=refill)
        X, T = _checks.examples(name, data, self.sizes[0], self.sizes[-1], labels)
        return self._kernels_for_cost().prepare(X), T

    def _training_examples(self, data, by_address):
        """``(inputs, Y, order)`` for the training list ``data``: as ``_examples``,
        and the row of the inputs and of Y that holds each example of ``data``
        (``order[k]``: ``data[k]``'s).  With ``by_address``, the compiled kernels
        may pack the examples in the order of their inputs' memory (see their
        ``pack``), the fastest for a list that an earlier epoch shuffled.  They pack
        into the memory of the inputs the last call packed (``_keep_inputs``), if
        this network's kernels made them."""
        pack = self._compiled_pack()
        kept = self.__dict__.pop("_packed_inputs", None)
        refill = kept[1] if kept is not None and kept[0] is self._kernels else None
        if by_address and pack is not None:
            X, Y, rows = pack("training_data", data, self.sizes[0], self.sizes[-1], False, True,
                              self._visit_hint(data), refill=refill)
        else:
            (X, Y), rows = self._examples("training_data", data, labels=False, refill=refill), None
        return X, Y, np.arange(len(data), dtype=np.intp) if rows is None else rows

    def _visit_hint(self, data):
        """The order in which to pack the list ``data`` if it holds the very objects
        that the last SGD call left in it: that call's rows of X, inverted -- its
        examples in the order of their memory, found without a pass over the list
        (see ``pack``).  None otherwise."""
        kept = self.__dict__.get("_packed_rows")
        if kept is None or _kernels.common is None or type(data) is not list or len(data) != len(kept[1]):
            return None
        items, rows = kept
        if not np.array_equal(_kernels.common.list_items(data), items):
            return None
        visit = np.empty(len(rows), dtype=np.intp)
        visit[rows] = np.arange(len(rows), dtype=np.intp)
        return visit

    def _keep_inputs(self, X):
        """Keep the training inputs that the compiled kernels packed, ``X``, for the
        next call to pack into (see their ``pack``'s ``refill``): fresh memory costs
        the system a page at a time, and on a VM's first calls more than packing.
        The network holds them (about 90 MB for MNIST's 50,000 images in float64)
        until the next call, or until it is gone; not pickled."""
        inputs = getattr(self._kernels, "Inputs", None)
        if inputs is not None and isinstance(X, inputs):
            self._packed_inputs = (self._kernels, X)

    def _keep_packed_rows(self, data, rows):
        """Remember that ``data``, as it is now, had its example k packed in row
        ``rows[k]``: the next call's ``_visit_hint``.  (Addresses only: the list's
        objects are not kept alive by it.)"""
        if _kernels.common is not None and type(data) is list:
            self._packed_rows = (_kernels.common.list_items(data), rows)

    # ------------------------------------------------------ the algorithm
    def feedforward(self, a):
        """Return the output of the network for input ``a``: an (n_in, 1) column, or
        (n_in, m) with one example per column, giving (n_out, m)."""
        if self._trusted:
            return numpy_kernels._output(self.weights, self.biases, a, **self._layers())
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[0] != self.sizes[0]:
            raise ValueError("feedforward: a has shape {}; expected ({}, 1), or ({}, m) for m "
                             "examples as columns".format(a.shape, self.sizes[0], self.sizes[0]))
        a = _checks.array("feedforward: a", a, a.shape)
        X = np.ascontiguousarray(a.T, dtype=np.float32 if a.dtype == np.float32 else np.float64)
        _checks.finite("feedforward: a", X)
        kernels = self._kernels_for_cost()
        weights, biases = self._params()
        return np.ascontiguousarray(kernels.feedforward(weights, biases, kernels.prepare(X),
                                                        **self._layers()).T)

    def predict(self, X):
        """Return the digit (the index of the most active output neuron) for each
        example of ``X``: an (m,) integer array, or an int when ``X`` is one 1-D
        input.  ``X`` is one input, (n_in,) or (n_in, 1); (n_in, m), one example
        per column; or (m, n_in), one example per row -- told apart by which
        dimension equals ``sizes[0]`` (a square (n_in, n_in) array is ambiguous
        and refused)."""
        rows, layout = self._prediction_rows("predict", X)
        kernels = self._kernels_for_cost()
        weights, biases = self._params()
        labels = kernels.cost_and_predict(weights, biases, kernels.prepare(rows), None, self._kernel_cost(),
                                          self._threads(), **self._layers())[1]
        return int(labels[0]) if layout == "one" else labels

    def predict_proba(self, X):
        """Return a score per class for each example of ``X`` (as in ``predict``), laid
        out as ``X`` is: (n_out, m) for columns, (m, n_out) for rows, (n_out,) for
        one 1-D input.  Each example's scores are at least 0 and sum to 1; see
        ``_class_scores`` for what they mean."""
        rows, layout = self._prediction_rows("predict_proba", X)
        kernels = self._kernels_for_cost()
        weights, biases = self._params()
        scores = self._class_scores(kernels.feedforward(weights, biases, kernels.prepare(rows),
                                                        **self._layers()))
        if layout == "one":
            return scores[0]
        return np.ascontiguousarray(scores.T) if layout == "columns" else scores

    def _class_scores(self, outputs):
        """Per-class scores from the output activations, one example per row.

        A softmax output layer (a cost whose ``output`` is "softmax", such as
        ``LogLikelihoodCost``; or a cost of the user's that declares ``softmax =
        True``) gives probabilities already: they are returned as they are.
        Sigmoid outputs are each in (0, 1) and independent; they are divided by their sum, a_j / Σ_k a_k.  Those scores
        rank the classes as ``predict`` does and sum to 1, but they are not
        calibrated probabilities: a digit scored 0.9 is not right 90% of the
        time, and an input that is no digit at all still gets scores summing to 1."""
        if self._softmax_output():
            return outputs
        total = outputs.sum(axis=1, keepdims=True)
        # every output 0 (each σ underflowed): no preference, equal scores
        return np.divide(outputs, total, out=np.full_like(outputs, 1.0 / outputs.shape[1]),
                         where=total > 0)

    def _softmax_output(self):
        """True when the output activations are probabilities: a softmax output layer."""
        return output_of(self.cost) == "softmax" or getattr(self.cost, "softmax", False) is True

    def _prediction_rows(self, name, X):
        """``(rows, layout)``: the examples of ``X``, checked, one per row, float32 or
        float64; and how ``X`` held them: "one" (1-D), "columns" or "rows"."""
        n_in = self.sizes[0]
        expected = "({0},) for one input, ({0}, m) with one example per column, or (m, {0}) " \
                   "with one per row".format(n_in)
        try:
            X = np.asarray(X)
        except (ValueError, TypeError):
            raise ValueError("{}: X is ragged or not an array; expected {}".format(name, expected)) from None
        if X.ndim == 1 and X.shape[0] == n_in:
            layout = "one"
        elif X.ndim == 2 and X.shape == (n_in, n_in):
            raise ValueError("{}: X has shape {}; with both dimensions equal to the input width {} it "
                             "is ambiguous whether its examples are rows or columns: pass them in "
                             "batches of another size".format(name, X.shape, n_in))
        elif X.ndim == 2 and n_in in X.shape:
            layout = "columns" if X.shape[0] == n_in else "rows"
        else:
            raise ValueError("{}: X has shape {}; expected {}".format(name, X.shape, expected))
        X = _checks.finite("{}: X".format(name), _checks.array("{}: X".format(name), X, X.shape))
        rows = X.reshape(1, n_in) if layout == "one" else X.T if layout == "columns" else X
        return np.ascontiguousarray(rows, dtype=np.float32 if X.dtype == np.float32 else np.float64), layout

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of the cost for the one example
        (x, y): lists of arrays shaped like ``biases`` and ``weights``."""
        if self._trusted:
            return self._gradient([x], [y])
        X, Y = _checks.examples("backprop: (x, y)", [(x, y)], self.sizes[0], self.sizes[-1], False)
        kernels = self._kernels_for_cost()
        weights, biases = self._params()
        if self._output_error()[1]:
            # the output error is the user's code: the book's backprop, in NumPy
            with self._trusting():
                return self._gradient([x], [y])
        return kernels.backprop(weights, biases, X.dense()[0], Y[0], self._kernel_cost(),
                                **self._layers())

    def _sgd(self, training_data, epochs, mini_batch_size, eta, lmbda, after_epoch,
             progress=None, progress_steps=100, step=None, mu=0.0,
             regularization="L2", sums_over_training=False):
        """Run ``epochs`` epochs of SGD; ``after_epoch(j, X, Y)`` runs after each one,
        given the training inputs (prepared for the kernels) and desired outputs,
        and stops the training by returning False, or sets the learning rate of
        the epochs after it by returning a number.  ``regularization`` "L2" or
        "L1" (of strength ``lmbda``), and momentum ``mu`` (0: none).
        ``sums_over_training``: ``after_epoch`` sums over the rows of X (a training
        cost), which are then kept in the list's order, so the sum's rounding is too.

        Each epoch shuffles the caller's list in place (``random.shuffle``, or
        the seed's Generator), cuts it into mini-batches and steps on each;
        ``progress(done, total)``, if given, is told how many examples of the
        epoch are done (0 when an epoch starts), about ``progress_steps`` times
        an epoch.  ``self.weights``/``self.biases`` are updated after
        every epoch, and when a KeyboardInterrupt stops the training: then to
        those of the last mini-batch done, with ``training_data`` this
        epoch's permutation of it.  When the class overrides one of
        ``TRAINING_HOOKS``, the epoch runs as the book's loop in Python instead:
        ``step(mini_batch)`` (which calls ``self.update_mini_batch`` with the
        book's arguments) for each mini-batch, a list cut from the shuffled
        ``training_data``.
        """
        epochs = _checks.integer("epochs", epochs, 0)
        mini_batch_size = _checks.integer("mini_batch_size", mini_batch_size, 1)
        eta = _checks.real("eta", eta, positive=True)
        lmbda = _checks.real("lmbda", lmbda, positive=False)
        mu = _checks.momentum(mu)
        regularization = _checks.choice("regularization", regularization, REGULARIZATIONS)
        if (mu > 0 or regularization == "L1") and step is not None and \
                self._in_python(*self.TRAINING_HOOKS):
            raise ValueError("mu > 0 and regularization='L1' are steps of cnet's own training; "
                             "{} overrides {}, whose step is the book's".format(
                                 type(self).__name__, ", ".join(sorted(
                                     self._overrides & self.TRAINING_HOOKS))))
        threads = self._threads()
        layers = self._layers()
        data = _checks.as_list("training_data", training_data)
        X, Y, order = self._training_examples(data, by_address=not sums_over_training)
        try:
            kernels = self._kernels_for_cost()
            weights, biases = self._params()
            velocities = None
            if mu > 0:
                velocities = self._current_velocities() or (
                    [np.zeros_like(w) for w in weights], [np.zeros_like(b) for b in biases])
            n = len(data)
            # progress is reported every `chunk` examples, a whole number of mini-batches
            steps = 1 if progress is None else progress_steps
            chunk = max(1, n // (steps * mini_batch_size)) * mini_batch_size
            if step is not None and self._in_python(*self.TRAINING_HOOKS):
                self._announce()
                self._publish(weights, biases)
                with self._trusting():
                    for j in range(epochs):
                        self._shuffle(data)
                        if progress is not None:
                            progress(0, n)
                        for k in range(0, n, mini_batch_size):
                            step(data[k:k + mini_batch_size])
                            done = min(k + mini_batch_size, n)
                            if progress is not None and (done % chunk == 0 or done == n):
                                progress(done, n)
                        if after_epoch(j, X, Y) is False:
                            break
                return
            cost = self._kernel_cost()
            for j in range(epochs):
                order = order[self._shuffle(data)]      # a whole permutation or none
                if progress is not None:
                    progress(0, n)
                try:
                    for start in range(0, n, chunk):
                        kernels.train(weights, biases, X, Y, order[start:start + chunk],
                                      mini_batch_size, eta, lmbda, n, cost, threads,
                                      regularization=regularization, mu=mu, velocities=velocities,
                                      **layers)
                        if progress is not None:
                            progress(min(start + chunk, n), n)
                except KeyboardInterrupt:   # the kernels stop between mini-batches: publish the last one's
                    if not sums_over_training:
                        self._keep_packed_rows(data, order)
                    self._publish(weights, biases)
                    if velocities is not None:
                        self._keep_velocities(velocities)
                    raise
                self._publish(weights, biases)
                if not sums_over_training:      # the rows are in the order of memory
                    self._keep_packed_rows(data, order)
                if velocities is not None:
                    self._keep_velocities(velocities)
                verdict = after_epoch(j, X, Y)
                if verdict is False:
                    break
                if verdict is not None and verdict is not True:
                    eta = _checks.real("eta", verdict, positive=True)
                if self._overrides:
                    # an overridden monitor ran: training continues from what it left there
                    weights, biases = self._params()
        finally:
            self._keep_inputs(X)      # for the next call to pack into

    def _update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One SGD step on the examples of ``mini_batch``: compiled, or the book's
        per-example loop when the class overrides a method that loop calls."""
        in_python = self._in_python(*(self.TRAINING_HOOKS - {"update_mini_batch"}))
        if in_python and self._trusted:
            return self._book_update(mini_batch, eta, lmbda, n)
        eta = _checks.real("eta", eta, positive=True)
        lmbda = _checks.real("lmbda", lmbda, positive=False)
        n = _checks.real("n", n, positive=True)
        threads = self._threads()
        data = _checks.as_list("mini_batch", mini_batch)
        if not data:
            raise ValueError("mini_batch is empty; expected at least one (x, y) pair")
        X, Y = self._examples("mini_batch", data, labels=False)
        kernels = self._kernels_for_cost()
        weights, biases = self._params()
        if in_python:
            self._announce()
            self._publish(weights, biases)
            with self._trusting():
                return self._book_update(data, eta, lmbda, n)
        try:
            kernels.train(weights, biases, X, Y, np.arange(len(data), dtype=np.intp), len(data),
                          eta, lmbda, n, self._kernel_cost(), threads, **self._layers())
        except KeyboardInterrupt:   # the step done, or (stopped before it) not begun
            self._publish(weights, biases)
            raise
        self._publish(weights, biases)

    def _measure(self, X, Y=None, labels=None, lmbda=0.0, regularization="L2"):
        """``(cost, correct)`` from one pass over the prepared inputs X: the mean cost
        against the rows of Y plus ½(λ/n)Σ‖w‖² (L2) or (λ/n)Σ|w| (L1) (None without
        Y), and how many rows the network classifies as ``labels`` (None without them)."""
        weights, biases = self._params()
        total, predicted = self._kernels_for_cost().cost_and_predict(
            weights, biases, X, Y, self._kernel_cost(), self._threads(), **self._layers())
        cost = correct = None
        if Y is not None:
            n = len(Y)
            if regularization == "L1":
                cost = total / n + (lmbda / n) * sum(float(np.sum(np.abs(w))) for w in weights)
            else:
                cost = total / n + 0.5 * (lmbda / n) * sum(np.linalg.norm(w) ** 2 for w in weights)
        if labels is not None:
            correct = int(np.sum(predicted == labels))
        return cost, correct

    def _correct(self, X, labels):
        """How many rows of X the network classifies as their label."""
        return self._measure(X, labels=labels)[1]

    # ------------------------------------------------------ for cnet's own tools
    # A small internal interface for the command line and scripts that need more
    # than SGD's printed lines: documented here, and kept stable while the private
    # methods above change.
    def train_epochs(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, after_epoch=None,
                     progress=None, progress_steps=100, mu=0.0, regularization="L2"):
        """Train as ``SGD`` does, printing nothing: ``epochs`` epochs of mini-batch SGD
        (``regularization`` "L2" or "L1" of strength ``lmbda``, momentum ``mu``),
        shuffling ``training_data`` in place.

        After epoch j, with ``net.weights``/``net.biases`` updated, calls
        ``after_epoch(j)``, which stops the training by returning False, or sets
        the learning rate of the following epochs by returning a number.
        ``progress(done, total)``, if given, is told how many examples of the epoch
        are done (0 when an epoch starts), about ``progress_steps`` times an epoch.
        Returns None.
        """
        def report(j, X, Y):
            return None if after_epoch is None else after_epoch(j)

        self._sgd(training_data, epochs, mini_batch_size, eta, lmbda, report, progress, progress_steps,
                  mu=mu, regularization=regularization)

    def correct_counter(self, data, name="data"):
        """A function of no arguments that returns how many of the (x, label) pairs in
        ``data`` the network, as it is when called, classifies correctly.  ``data``
        is checked (its errors naming it ``name``) and packed for the kernels once,
        here, so that each call costs only the forward passes."""
        X, labels = self._examples(name, _checks.as_list(name, data), labels=True)
        return lambda: self._correct(X, labels)

    def _one_hot(self, labels):
        Y = np.zeros((len(labels), self.sizes[-1]))
        Y[np.arange(len(labels)), labels] = 1.0
        return Y

    def _cost_name(self):
        """The name ``save`` records: the built-in cost's that ``self.cost`` computes
        (for an instance too), else the name of the user's class."""
        cost = self._kernel_cost()
        return str(getattr(cost, "__name__", None) or type(cost).__name__)

    def save(self, filename):
        """Save the network to ``filename`` as JSON (``network2``'s format), atomically:
        the file is written in full under a temporary name, then renamed."""
        filename = _checks.path("filename", filename)
        weights, biases = self._params()
        data = {"sizes": self.sizes,
                "weights": [w.tolist() for w in weights],
                "biases": [b.tolist() for b in biases],
                "cost": self._cost_name()}
        if self.activation != "sigmoid":
            data["activation"] = self.activation     # a key the book's load() ignores
        directory = os.path.dirname(os.path.abspath(filename))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".cnet-", suffix=".json.tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # the permissions open(filename, "w") would give
            os.replace(tmp, filename)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


class EtaSchedule:
    """The book's learning-rate schedule (chapter 3): halve η each time the accuracy on
    the evaluation data has not improved for ``n`` epochs in a row, and stop once η
    has fallen to η₀/128 (seven halvings)."""

    def __init__(self, eta, n):
        self.eta0 = self.eta = eta
        self.n = n
        self.best = None
        self.epochs_without_improvement = 0

    def after_epoch(self, accuracy):
        """Given an epoch's evaluation accuracy: the learning rate for the next epoch, or
        None when training is to stop."""
        if self.best is None or accuracy > self.best:
            self.best = accuracy
            self.epochs_without_improvement = 0
            return self.eta
        self.epochs_without_improvement += 1
        if self.epochs_without_improvement == self.n:
            self.epochs_without_improvement = 0
            self.eta = self.eta / 2
            if self.eta <= self.eta0 / 128:
                return None
        return self.eta
