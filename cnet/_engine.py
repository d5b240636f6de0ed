"""The dispatcher behind both networks: their parameters, their checks, and each call sent to the kernels."""
import warnings
import weakref

import numpy as np

from cnet import _checks, _kernels, _persistence, layers
from cnet._book_path import BookPath, _warned_classes
from cnet._draws import Draws
from cnet._epochs import REGULARIZATIONS, EarlyStopping, EpochLoop, EtaSchedule
from cnet._kernels import numpy_kernels
from cnet._packing import Packing
from cnet.functions import (ACTIVATIONS, builtin_cost, cost_by_name, output_of,
                            overridden_cost_methods)

# EarlyStopping, EtaSchedule, REGULARIZATIONS and _warned_classes are imported
# from here by network2, the command line and the tests
__all__ = ["Engine", "EarlyStopping", "EtaSchedule", "REGULARIZATIONS", "_warned_classes"]

_warned_costs = weakref.WeakSet()      # cost classes already reported as not compiled


class Engine(Draws, Packing, BookPath, EpochLoop):
    """A feedforward network trained by mini-batch SGD (see the subclasses): sigmoid
    neurons, or ``activation`` ("tanh", "relu") in the hidden layers; the output
    layer's activation is the cost's (``cnet.functions.output_of``).

    It owns the parameters the user sees (``sizes``, ``weights``, ``biases``,
    ``cost``) and the layers they make (``cnet.layers``), checks every argument
    once (``cnet._checks``), and runs all arithmetic through one kernel module
    (``cnet._kernels``): the compiled kernels, or the NumPy reference.
    Parameters are read from ``self.weights``/``self.biases`` at the start of
    every call, so whatever the user assigned there is honoured, and written
    back as new arrays in the network's dtype when the call's work is done; a
    call that raises has changed nothing.

    Its other concerns are mixed in from their own modules: the random draws
    (``_draws``), checking and packing examples (``_packing``), the book's
    Python path for a subclass that overrides the book's methods
    (``_book_path``), the epoch loop (``_epochs``) and JSON files
    (``_persistence``).  A class that overrides none of ``HOOKS`` runs on the
    compiled kernels only.

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
        # a cost's name ("cross-entropy", "CrossEntropyCost") means its class
        self.cost = cost_by_name(cost) if isinstance(cost, str) else cost
        self.seed = seed
        self.dtype = _kernels.dtype_of(dtype)
        _checks.fits_in_memory(self.sizes, layers.parameter_count(self._layer_list()), self.dtype)
        self._rng = _checks.rng(seed)
        self._kernels = _kernels.get(backend, self.dtype)
        self.backend = self._kernels.NAME

    def __getstate__(self):
        # a network pickles (and deep-copies) as its data; the kernel module is looked up again
        state = dict(self.__dict__)
        del state["_kernels"]
        state.pop("_trusted", None)
        state.pop("_packed_inputs", None)
        state.pop("_layer_cache", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("num_threads", 1)       # a pickle without the key: one thread
        self.__dict__.setdefault("activation", "sigmoid")
        self._kernels = _kernels.get(self.backend, self.dtype)

    # ------------------------------------------------------ the layers
    def _layer_plan(self):
        """``(layers, kernel_arguments)`` for the network as it is now: its layer
        objects (``cnet.layers``: dense, from ``sizes``, the hidden layers'
        ``activation`` and the cost's output activation), and the keyword arguments
        that describe them to the kernels.  Worked out again only when one of
        those three has changed (the user may assign them)."""
        activation = _checks.choice("net.activation", self.activation, tuple(ACTIVATIONS))
        key = (tuple(self.sizes), activation, output_of(self.cost))
        plan = self.__dict__.get("_layer_cache")
        if plan is None or plan[0] != key:
            network_layers = layers.dense_chain(*key)
            plan = (key, network_layers, {"spec": layers.spec(network_layers)})
            self._layer_cache = plan
        return plan[1], plan[2]

    def _layer_list(self):
        """The network's layers (``cnet.layers`` objects), input side first."""
        return self._layer_plan()[0]

    def _kernel_layers(self):
        """The layers as every kernel call takes them: the keyword argument ``spec``,
        each layer's ``LayerSpec``."""
        return self._layer_plan()[1]

    # ------------------------------------------------------ the boundary
    def _params(self):
        """Checked copies of the weights and biases in the network's dtype, as two lists."""
        network_layers = self._layer_list()
        for name in ("weights", "biases"):
            value = getattr(self, name, None)
            if not isinstance(value, (list, tuple)) or len(value) != len(network_layers):
                raise ValueError("net.{} must be a list of {} arrays for sizes {}".format(
                    name, len(network_layers), self.sizes))
        weights, biases = [], []
        for position, layer in enumerate(network_layers):
            where = "[{}]".format(position)
            w = _checks.array("net.weights" + where, self.weights[position], layer.weight_shape)
            b = _checks.array("net.biases" + where, self.biases[position], layer.bias_shape)
            weights.append(_checks.finite("net.weights" + where, np.array(w, self.dtype)))
            biases.append(_checks.finite("net.biases" + where, np.array(b, self.dtype)))
        return weights, biases

    def _publish(self, weights, biases):
        self.weights = [w.copy() for w in weights]
        self.biases = [b.copy() for b in biases]

    @property
    def velocities(self):
        """The momentum velocities ``(vw, vb)``, lists of arrays shaped like ``weights``
        and ``biases`` (copies), or None when there are none: before training with
        ``mu`` > 0, or after the weights or biases were replaced."""
        kept = self._current_velocities()
        return None if kept is None else ([a.copy() for a in kept[0]], [a.copy() for a in kept[1]])

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

    # ------------------------------------------------------ the algorithm
    def feedforward(self, a):
        """Return the output of the network for input ``a``: an (n_in, 1) column, or
        (n_in, m) with one example per column, giving (n_out, m)."""
        if self._trusted:
            return self._book_feedforward(a)
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
                                                        **self._kernel_layers()).T)

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
                                          self._threads(), **self._kernel_layers())[1]
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
                                                        **self._kernel_layers()))
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

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of the cost for the one example
        (x, y): lists of arrays shaped like ``biases`` and ``weights``."""
        if self._trusted:
            return self._book_backprop(x, y)
        X, Y = _checks.examples("backprop: (x, y)", [(x, y)], self.sizes[0], self.sizes[-1], False)
        kernels = self._kernels_for_cost()
        weights, biases = self._params()
        if self._output_error()[1]:
            # the output error is the user's code: the book's backprop, in NumPy
            with self._trusting():
                return self._book_backprop(x, y)
        return kernels.backprop(weights, biases, X.dense()[0], Y[0], self._kernel_cost(),
                                **self._kernel_layers())

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
                          eta, lmbda, n, self._kernel_cost(), threads, **self._kernel_layers())
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
            weights, biases, X, Y, self._kernel_cost(), self._threads(), **self._kernel_layers())
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
        def report(epoch, X, Y):
            return None if after_epoch is None else after_epoch(epoch)

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
        _persistence.save(self, filename)
