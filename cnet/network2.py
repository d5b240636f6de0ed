"""network2.py, chapter 3 of *Neural Networks and Deep Learning*, compiled.

A drop-in for the book's improved network: cross-entropy cost, L2
regularisation, weights initialised N(0, 1/n_in), monitoring of cost and
accuracy, early stopping, and saving to JSON.  It runs on the same engine as
``cnet.network``; the cost and the regularisation are parameters of the
kernels, and monitoring runs in the kernels too.

And the rest of chapter 3, each off by default: a softmax output layer with
the log-likelihood cost (``cost=LogLikelihoodCost``), tanh or ReLU hidden
layers (``activation=``), momentum (``SGD(..., mu=)``), L1 regularisation
(``SGD(..., regularization="L1")``) and the learning-rate schedule
(``SGD(..., eta_schedule_n=)``).
"""
import numpy as np

from cnet import _checks, _persistence
from cnet._engine import REGULARIZATIONS, EarlyStopping, Engine, EtaSchedule
from cnet.functions import (CrossEntropyCost, LogLikelihoodCost,
                            QuadraticCost, relu, relu_prime, sigmoid, sigmoid_prime, softmax, tanh,
                            tanh_prime, vectorized_result)

__all__ = ["Network", "QuadraticCost", "CrossEntropyCost", "LogLikelihoodCost", "load",
           "vectorized_result", "sigmoid", "sigmoid_prime", "tanh", "tanh_prime", "relu",
           "relu_prime", "softmax"]


# The methods the book's code calls (SGD → update_mini_batch → backprop →
# cost.delta; SGD's monitors → total_cost/accuracy → feedforward, cost.fn): a
# subclass's override of any of them is called where and as often as the book
# calls it.  Each maps to what the override costs (None: nothing worth a warning).
HOOKS = {
    "update_mini_batch": "SGD calls it for every mini-batch from Python (cnet's own "
                         "update_mini_batch, if it calls that, stays compiled)",
    "backprop": "update_mini_batch calls it for every example from Python, at about the "
                "book's speed",
    "feedforward": "accuracy and total_cost call it for every example from Python, at about "
                   "the book's speed",
    "accuracy": None,
    "total_cost": None,
}


class Network(Engine, hooks=HOOKS, training_hooks=("update_mini_batch", "backprop")):
    """A network with layer widths ``sizes`` and cost ``cost``.

    ``cost`` is a cost class or an instance of one (``CrossEntropyCost()``, as
    the book's figure scripts pass it); the built-in costs train compiled
    either way.  A built-in cost's name means its class: "cross-entropy" or
    "CrossEntropyCost", "quadratic", "log-likelihood" (any other name is a
    ValueError).  The hidden layers' neurons are ``activation``: "sigmoid"
    (the book's), "tanh" or "relu".  The output layer is what the cost needs:
    sigmoid for ``QuadraticCost`` and ``CrossEntropyCost``, softmax for
    ``LogLikelihoodCost`` (then ``feedforward`` returns probabilities, each
    column summing to 1).  Parameters start from ``default_weight_initializer``
    whatever the activation; for ReLU layers He's initialisation, weights
    N(0, 2/n_in), often suits better -- assign it to ``net.weights`` if wanted.
    ``seed``, ``backend``, ``dtype`` and ``num_threads`` are as in
    ``cnet.network.Network``.
    """

    def __init__(self, sizes, cost=CrossEntropyCost, seed=None, backend=None, dtype=np.float64,
                 num_threads=None, activation="sigmoid"):
        super().__init__(sizes, cost=cost, seed=seed, backend=backend, dtype=dtype,
                         num_threads=num_threads, activation=activation)
        self.default_weight_initializer()

    def default_weight_initializer(self):
        """Biases ~ N(0, 1); weights ~ N(0, 1/n_in), n_in being the number of inputs
        to the neuron (the book's order: all biases, then all weights)."""
        self._initialize("default")

    def large_weight_initializer(self):
        """Biases and weights ~ N(0, 1), as in chapter 1."""
        self._initialize("large")

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0,
            evaluation_data=None, monitor_evaluation_cost=False,
            monitor_evaluation_accuracy=False, monitor_training_cost=False,
            monitor_training_accuracy=False, early_stopping_n=0, mu=0.0, regularization="L2",
            eta_schedule_n=0):
        """Train by mini-batch SGD with L2 regularisation ``lmbda``.

        Returns ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``: per-epoch lists, each empty unless its monitor flag
        is on.  ``early_stopping_n > 0`` stops once the accuracy on
        ``evaluation_data`` has not improved for that many epochs.

        Chapter 3's other options, each off by default:

        - ``regularization="L1"``: w ← w − (ηλ/n) sgn(w) − (η/m) ∇w instead of
          L2's w ← (1 − ηλ/n) w − (η/m) ∇w; the cost monitors then add
          (λ/n) Σ|w| instead of ½(λ/n) Σ‖w‖².
        - ``mu`` in [0, 1): momentum-based gradient descent, for every weight and
          bias v ← μv − η∇C, w ← w + v (∇C holding the regularisation's term).
          The velocities stay with the network from one ``SGD`` call to the
          next (``net.velocities``); they start at zero, start at zero again
          when ``net.weights`` or ``net.biases`` is replaced, and are not saved
          by ``save``.  ``mu=0`` is the plain step, bit for bit.
        - ``eta_schedule_n > 0``: the book's learning-rate schedule -- halve η
          each time the accuracy on ``evaluation_data`` has not improved for
          that many epochs, and stop once η has fallen to η₀/128.  Each epoch
          then prints the η it trained with (``Learning rate: η``) after its
          ``Epoch j training complete`` line.
        """
        early_stopping_n = _checks.integer("early_stopping_n", early_stopping_n, 0)
        eta_schedule_n = _checks.integer("eta_schedule_n", eta_schedule_n, 0)
        mu = _checks.momentum(mu)
        regularization = _checks.choice("regularization", regularization, REGULARIZATIONS)
        eta = _checks.real("eta", eta, positive=True)
        _checks.real("lmbda", lmbda, positive=False)
        data = _checks.as_list("training_data", training_data)
        needs_evaluation = (monitor_evaluation_cost or monitor_evaluation_accuracy or early_stopping_n
                            or eta_schedule_n)
        if evaluation_data is not None:
            evaluation_data = _checks.as_list("evaluation_data", evaluation_data)
            X_eval, labels = self._examples("evaluation_data", evaluation_data, labels=True)
            Y_eval = self._one_hot(labels)
        elif needs_evaluation:
            raise ValueError("evaluation_data is needed to monitor evaluation cost or accuracy, "
                             "to stop early, or for eta_schedule_n")
        if monitor_training_cost and not data:
            raise ValueError("training_data is empty; its mean cost cannot be monitored")
        if monitor_evaluation_cost and not evaluation_data:
            raise ValueError("evaluation_data is empty; its mean cost cannot be monitored")
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        early_stopping = EarlyStopping(early_stopping_n) if early_stopping_n else None
        schedule = EtaSchedule(eta, eta_schedule_n) if eta_schedule_n else None
        rate = {"eta": eta}     # the learning rate of the current epoch
        n = len(data)
        # a monitor whose method (or feedforward) is overridden calls it, as the book does
        python_cost = self._in_python("total_cost", "feedforward")
        python_accuracy = self._in_python("accuracy", "feedforward")
        if python_cost or python_accuracy:
            self._announce(stacklevel=3)

        def measure(X, Y, labels, data, evaluation, want_cost, want_accuracy, book_accuracy):
            """(cost, accuracy) of a data set: the overridden methods called as the book
            calls them (``book_accuracy``: the book calls accuracy here), the rest compiled,
            in one pass that gives both."""
            python_cost_here = want_cost and python_cost
            python_accuracy_here = want_accuracy and book_accuracy and python_accuracy
            compiled_cost = want_cost and not python_cost_here
            compiled_accuracy = want_accuracy and not python_accuracy_here
            cost = accuracy = None
            if compiled_cost or compiled_accuracy:
                cost, accuracy = self._measure(X, Y if compiled_cost else None,
                                               labels if compiled_accuracy else None, lmbda,
                                               regularization)
            if python_cost_here:
                cost = (self.total_cost(data, lmbda, convert=True) if evaluation
                        else self.total_cost(data, lmbda))
            if python_accuracy_here:
                accuracy = self.accuracy(data) if evaluation else self.accuracy(data, convert=True)
            return cost, accuracy

        def monitor(epoch, X, Y):
            print("Epoch %s training complete" % epoch)
            if schedule is not None:
                print("Learning rate: {}".format(schedule.eta))
            if monitor_training_cost or monitor_training_accuracy:
                cost, accuracy = measure(X, Y, np.argmax(Y, axis=1), data, False,
                                         monitor_training_cost, monitor_training_accuracy, True)
            if monitor_training_cost:
                training_cost.append(cost)
                print("Cost on training data: {}".format(cost))
            if monitor_training_accuracy:
                training_accuracy.append(accuracy)
                print("Accuracy on training data: {} / {}".format(accuracy, n))
            if needs_evaluation:
                eval_cost, eval_accuracy = measure(
                    X_eval, Y_eval, labels, evaluation_data, True, monitor_evaluation_cost,
                    True, monitor_evaluation_accuracy)
            if monitor_evaluation_cost:
                evaluation_cost.append(eval_cost)
                print("Cost on evaluation data: {}".format(eval_cost))
            if monitor_evaluation_accuracy:
                evaluation_accuracy.append(eval_accuracy)
                # the book's print line calls accuracy(evaluation_data) a second time
                printed = self.accuracy(evaluation_data) if python_accuracy else eval_accuracy
                print("Accuracy on evaluation data: {} / {}".format(printed, len(evaluation_data)))
            print()
            if early_stopping is not None and early_stopping.stop_after(eval_accuracy):
                return False
            if schedule is not None:
                rate["eta"] = schedule.after_epoch(eval_accuracy)
                return False if rate["eta"] is None else rate["eta"]
            return True

        self._sgd(data, epochs, mini_batch_size, eta, lmbda, monitor,
                  step=lambda mini_batch: self.update_mini_batch(mini_batch, rate["eta"], lmbda, n),
                  mu=mu, regularization=regularization, keep_order=monitor_training_cost)
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """Apply one gradient-descent step to the (x, y) pairs of ``mini_batch``:
        w ← (1 − ηλ/n) w − (η/m) ∇w, b ← b − (η/m) ∇b, where ``n`` is the size of
        the whole training set and m that of the mini-batch."""
        self._update_mini_batch(mini_batch, eta, lmbda, n)

    def accuracy(self, data, convert=False):
        """Return how many inputs in ``data`` the network classifies correctly.

        ``convert=False`` when the labels are integers (validation and test
        data), ``convert=True`` when they are one-hot columns (training data).
        """
        data = _checks.as_list("data", data)
        if self._in_python("feedforward"):
            self._check_for_python("data", data, labels=not convert)
            return self._book_correct(data, convert)
        X, T = self._examples("data", data, labels=not convert, once=True)
        return self._correct(X, np.argmax(T, axis=1) if convert else T)

    def total_cost(self, data, lmbda, convert=False, regularization="L2"):
        """Return the mean cost over ``data`` plus the L2 term ½(λ/len(data))Σ‖w‖²
        (``regularization="L1"``: the L1 term (λ/len(data))Σ|w|).

        ``convert=False`` when the labels are one-hot columns (training data),
        ``convert=True`` when they are integers (validation and test data).
        """
        lmbda = _checks.real("lmbda", lmbda, positive=False)
        regularization = _checks.choice("regularization", regularization, REGULARIZATIONS)
        data = _checks.as_list("data", data)
        if not data:
            raise ValueError("data is empty; the mean cost needs at least one example")
        if self._in_python("feedforward"):
            self._check_for_python("data", data, labels=convert)
            return self._book_total_cost(data, lmbda, convert, regularization)
        X, T = self._examples("data", data, labels=convert)
        return self._measure(X, self._one_hot(T) if convert else T, lmbda=lmbda,
                             regularization=regularization)[0]


def load(filename):
    """Return the ``Network`` saved in ``filename`` by ``save`` (this module's or the
    book's).  A file that is not such a network raises ``ValueError`` naming it.
    The hidden layers' activation is the file's "activation" key, sigmoid
    without one (the book's files); momentum velocities are not saved.

    The file is checked before anything is built from it: its layer widths
    must describe no more numbers than a file of its size can hold, and its
    arrays must have the shapes they describe; so no file makes ``load``
    allocate much more than a few times its own size.
    """
    sizes, cost, activation, weights, biases = _persistence.read(filename)
    # only now that the file's arrays are known to be the network's: build it (drawing
    # its random initial parameters, as the book's load does), then put them in place
    net = Network(sizes, cost=cost, activation=activation)
    net._publish(weights, biases)
    return net
