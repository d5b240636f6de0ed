"""network3.py of *Neural Networks and Deep Learning* (chapter 6), without Theano.

``from cnet import network3`` replaces ``import network3``: convolutional and
max-pooling layers, fully connected and softmax layers with dropout, trained by
the book's ``SGD`` -- mini-batches in order, never shuffled, the L2 term over
the number of mini-batches, the best validation epoch's test accuracy, the
book's printed lines.  ``np.random.seed(s)`` before building the layers gives
the book's initial parameters.  Layers are built in ``floatX`` ("float32", as
the book's ``GPU = True`` sets Theano's; "float64" works everywhere), read when
a layer is built.

Beyond the book: ``Network(layers, mini_batch_size, seed=None)`` seeds the
dropout masks (a mask bit is a function of seed, layer, step, example and
unit; the default seed is 0, so runs repeat); ``net.predict(X)``,
``net.accuracy(data)``, ``net.save(path)`` / ``load(path)``, and
``ensemble(nets, data)``, the plurality vote of the book's ``conv.py``.
"""
import collections

import numpy as np

from cnet import _checks, _kernels, _layer_math, _network3_files
from cnet._kernels import numpy_conv
from cnet._network3_data import Shared, arrays, load_data_shared, size
from cnet._network3_layers import (ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, activation_name,
                                   check_chain, linear, ReLU, sigmoid, tanh)

__all__ = ["Network", "ConvPoolLayer", "FullyConnectedLayer", "SoftmaxLayer", "sigmoid", "tanh", "ReLU",
           "linear", "load_data_shared", "size", "load", "ensemble", "floatX", "Shared", "activation_name"]

floatX = "float32"     # the precision of layers built from now on (the book's theano.config.floatX)


class Network:
    """The book's ``Network(layers, mini_batch_size)``: ``layers`` a list of
    ConvPoolLayer, FullyConnectedLayer and SoftmaxLayer objects, each one's input
    the previous one's output, the last a SoftmaxLayer."""

    def __init__(self, layers, mini_batch_size, seed=None, backend=None, num_threads=None):
        self.layers = list(layers)
        self.num_threads = _checks.num_threads(num_threads)
        self.mini_batch_size = check_chain(self.layers, mini_batch_size)
        self.params = [p for layer in self.layers for p in (layer.w, layer.b)]
        self.dtype = self.layers[0].w.value.dtype
        self.seed = 0 if seed is None else int(seed)
        if self.seed < 0:
            raise ValueError("seed must be a non-negative integer, got {}".format(seed))
        self.backend = backend
        self.steps = 0                   # mini-batches trained since the network was built
        self._kernels = _kernels.get(backend, self.dtype)   # the compiled kernels, else the NumPy ones

    # ------------------------------------------------------------ training
    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data, test_data, lmbda=0.0):
        """Train by mini-batch stochastic gradient descent, as the book's network3.py:
        mini-batches in order (the remainder untrained), after each epoch the
        validation accuracy and, when it is the best so far, the test accuracy."""
        if mini_batch_size != self.mini_batch_size:
            raise ValueError("SGD's mini_batch_size is {}, but the network was built for mini-batches "
                             "of {} (its layers' image_shape[0] and Network(..., mini_batch_size))".format(
                                 mini_batch_size, self.mini_batch_size))
        epochs = _count("epochs", epochs)
        eta, lmbda = _real("eta", eta), _real("lmbda", lmbda)
        training_x, training_y = self._arrays("training_data", training_data)
        validation = self._arrays("validation_data", validation_data)
        test = self._arrays("test_data", test_data) if test_data else None
        m = self.mini_batch_size
        num_training_batches = len(training_x) // m
        if num_training_batches == 0:
            raise ValueError("training_data has {} examples: fewer than one mini-batch of {}".format(
                len(training_x), m))
        best_validation_accuracy, best_iteration, test_accuracy = 0.0, None, None
        for epoch in range(epochs):
            for minibatch_index in range(num_training_batches):
                iteration = num_training_batches * epoch + minibatch_index
                if iteration % 1000 == 0:
                    print("Training mini-batch number {0}".format(iteration))
                rows = slice(minibatch_index * m, (minibatch_index + 1) * m)
                self._step(training_x[rows], training_y[rows], eta, lmbda, num_training_batches)
                if (iteration + 1) % num_training_batches == 0:
                    validation_accuracy = self._batch_accuracy(*validation)
                    print("Epoch {0}: validation accuracy {1:.2%}".format(epoch, validation_accuracy))
                    if validation_accuracy >= best_validation_accuracy:
                        print("This is the best validation accuracy to date.")
                        best_validation_accuracy = validation_accuracy
                        best_iteration = iteration
                        if test:
                            test_accuracy = self._batch_accuracy(*test)
                            print("The corresponding test accuracy is {0:.2%}".format(test_accuracy))
        print("Finished training network.")
        print("Best validation accuracy of {0:.2%} obtained at iteration {1}".format(
            best_validation_accuracy, best_iteration))
        if test_accuracy is not None:
            print("Corresponding test accuracy of {0:.2%}".format(test_accuracy))
        self.best_validation_accuracy, self.best_iteration = best_validation_accuracy, best_iteration
        self.test_accuracy = test_accuracy
        return best_validation_accuracy, test_accuracy

    def _step(self, x, y, eta, lmbda, num_training_batches):
        """One step p ← p − η ∂C/∂p, C = the mean cost of the mini-batch (dropout on)
        + ½ λ Σ‖w‖² / num_training_batches; every parameter moves at once."""
        mask = _layer_math.Mask(self._kernels, self.seed, self.steps)
        cost, grads = _layer_math.gradients(self.layers, x, y, self._kernels, mask, self._threads())
        decay = self.dtype.type(lmbda / num_training_batches)
        step = self.dtype.type(eta)
        new = [(self._moved(layer.w.value, d_w, step, decay), self._moved(layer.b.value, d_b, step, None))
               for layer, (d_w, d_b) in zip(self.layers, grads)]
        for layer, (w, b) in zip(self.layers, new):
            layer.w.value, layer.b.value = w, b
        self.steps += 1
        return cost

    def _moved(self, p, grad, step, decay):
        """p − step · (grad + decay · p) (without decay: p − step · grad), in p's dtype, in
        one new array: the kernels' ``moved``, or rounded once at the end for a gradient
        in another precision."""
        if grad.dtype != p.dtype:
            return (p - step * (grad + decay * p if decay is not None else grad)).astype(p.dtype)
        return (self._kernels if p.dtype == self.dtype else numpy_conv).moved(p, grad, step, decay)

    # ------------------------------------------------------------ measuring
    def _batch_accuracy(self, X, Y):
        """The book's accuracy: the mean over whole mini-batches (the remainder left
        out) of each mini-batch's fraction of correct predictions."""
        m = self.mini_batch_size
        batches = len(X) // m
        if batches == 0:
            return float("nan")
        correct = self.predict(X[:batches * m]) == Y[:batches * m]
        return float(np.mean([np.mean(correct[j * m:(j + 1) * m]) for j in range(batches)]))

    def predict(self, X):
        """The digit the network gives each row of ``X`` (n, inputs): an int array."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.layers[0].n_inputs:
            raise ValueError("X has shape {}; expected (n, {})".format(X.shape, self.layers[0].n_inputs))
        X = X.astype(self.dtype, copy=False)
        threads = self._threads()
        out = [np.argmax(_layer_math.forward(self.layers, X[start:start + 1000], self._kernels,
                                             threads=threads)[0], axis=1)
               for start in range(0, len(X), 1000)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def _threads(self):
        """``self.num_threads``, checked (the user may have assigned it)."""
        return _checks.threads("num_threads", getattr(self, "num_threads", 1))

    def accuracy(self, data):
        """The fraction of ``data``'s examples (shared or array pairs (x, y)) predicted right."""
        X, Y = self._arrays("data", data)
        return float(np.mean(self.predict(X) == Y)) if len(X) else float("nan")

    def _arrays(self, name, data):
        return arrays(name, data, self.layers[0].n_inputs, self.layers[-1].n_out, self.dtype)

    # ------------------------------------------------------------ files
    def save(self, filename):
        """Write the network to ``filename`` as JSON: each layer's kind, shapes,
        activation, dropout and parameters; ``load`` reads it back."""
        _network3_files.save(self, filename)


def load(filename):
    """The network3.Network saved in ``filename`` by ``Network.save``."""
    return _network3_files.load(filename)


def ensemble(nets, data):
    """The plurality vote of ``nets`` on ``data`` (the book's conv.py): prints
    ``Accuracy is {:.2%}`` and returns ``(error_locations, erroneous_predictions)``,
    the indices the vote gets wrong and its answers there."""
    nets = list(nets)
    if not nets:
        raise ValueError("ensemble needs at least one network")
    X, Y = nets[0]._arrays("data", data)
    all_predictions = list(zip(*[net.predict(X) for net in nets]))

    def plurality(p):
        return collections.Counter(p).most_common(1)[0][0]

    votes = [plurality(p) for p in all_predictions]
    error_locations = [j for j in range(len(Y)) if votes[j] != Y[j]]
    erroneous_predictions = [votes[j] for j in error_locations]
    print("Accuracy is {:.2%}".format(1 - len(error_locations) / float(len(Y))))
    return error_locations, erroneous_predictions


def _count(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError("{} must be a non-negative integer, got {!r}".format(name, value))
    return int(value)


def _real(name, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError("{} must be a number, got {!r}".format(name, value)) from None
    if not np.isfinite(number) or number < 0:
        raise ValueError("{} must be a finite number >= 0, got {!r}".format(name, value))
    return number

