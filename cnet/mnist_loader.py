"""mnist_loader.py of *Neural Networks and Deep Learning*, finding its own data.

``load_data()`` and ``load_data_wrapper()`` return what the book's loader
returns, from either form of MNIST: the book's ``mnist.pkl.gz`` or the four
official IDX files (split as the book did: the first 50,000 training images
train, the last 10,000 validate).  Where the data is looked for, and how it is
fetched when it is nowhere, is described in ``cnet.datasets``.
"""
import numpy as np

from cnet import datasets
from cnet.functions import vectorized_result

__all__ = ["load_data", "load_data_wrapper", "vectorized_result"]


def load_data(path=None):
    """Return MNIST as ``(training_data, validation_data, test_data)``.

    Each is a tuple ``(images, labels)``: images an (n, 784) float32 array of
    pixel intensities in [0, 1), labels an (n,) int64 array of digits; n is
    50,000, 10,000 and 10,000.  ``path``: a directory holding MNIST, or the
    pickle itself (default: see ``cnet.datasets``).
    """
    found = datasets.locate(path)
    if "pickle" in found:
        parts = datasets.read_pickle(found["pickle"])
        for (images, labels), name in zip(parts, ("training", "validation", "test")):
            _check_mnist(found["pickle"], "the {} images".format(name), images.shape[1:], (784,), labels)
        return parts
    idx = found["idx"]
    parts = {}
    for key, file in idx.items():
        parts[key] = datasets.read_idx(file)
    for kind in ("train", "test"):
        images, labels = parts[kind + "_images"], parts[kind + "_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError("{}: images {} and labels {} do not pair up".format(
                idx[kind + "_images"], images.shape, labels.shape))
        _check_mnist(idx[kind + "_images"], "the images", images.shape[1:], (28, 28), None)
        _check_mnist(idx[kind + "_labels"], "the labels", None, None, labels)

    def as_book(images, labels):
        # the book's pickle holds pixel / 256 as float32, and int64 labels
        return (images.reshape(len(images), -1).astype(np.float32) / np.float32(256),
                labels.astype(np.int64))

    train = as_book(parts["train_images"], parts["train_labels"])
    test = as_book(parts["test_images"], parts["test_labels"])
    split = len(train[0]) - 10000
    return ((train[0][:split], train[1][:split]), (train[0][split:], train[1][split:]), test)


def _check_mnist(path, what, shape, expected, labels):
    """Raise ``ValueError`` naming ``path`` unless ``shape`` is ``expected`` and the
    ``labels`` (if given) are digits 0..9: what ``load_data_wrapper`` relies on."""
    if shape is not None and tuple(shape) != expected:
        raise ValueError("{}: {} are {}; MNIST's are {}".format(
            path, what, "x".join(map(str, shape)), "x".join(map(str, expected))))
    if labels is not None and len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError("{}: labels range over {}..{}; MNIST's are digits 0..9".format(
            path, labels.min(), labels.max()))


def load_data_wrapper(path=None):
    """Return ``(training_data, validation_data, test_data)`` as lists of pairs:
    training ``(x, y)`` with x a (784, 1) input and y a (10, 1) one-hot column;
    validation and test ``(x, label)`` with an integer label."""
    tr_d, va_d, te_d = load_data(path)
    training_data = [(x.reshape(784, 1), vectorized_result(y)) for x, y in zip(*tr_d)]
    validation_data = [(x.reshape(784, 1), y) for x, y in zip(*va_d)]
    test_data = [(x.reshape(784, 1), y) for x, y in zip(*te_d)]
    return training_data, validation_data, test_data
