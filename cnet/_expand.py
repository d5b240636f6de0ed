"""The book's ``expand_mnist.py``: each training image and its four copies moved
one pixel, written as ``mnist_expanded.pkl.gz`` where cnet keeps its data."""
import gzip
import os
import pickle
import random
import tempfile

import numpy as np

EXPANDED = "mnist_expanded.pkl.gz"
SIDE = 28
# The book's table of displacements, in its order: (shift, axis), each np.roll'ed
# by `shift` along `axis` of the 28 x 28 image, the row or column that wrapped
# around set to zeros: down, up, right, left.
DISPLACEMENTS = ((1, 0), (-1, 0), (1, 1), (-1, 1))


def displaced(images):
    """An (n, 5, 784) array: each of the (n, 784) ``images``, then its four copies
    moved one pixel as the book's ``expand_mnist.py`` moves them (``DISPLACEMENTS``)."""
    images = np.asarray(images)
    square = images.reshape(len(images), SIDE, SIDE)
    out = np.empty((len(images), 1 + len(DISPLACEMENTS), SIDE, SIDE), dtype=images.dtype)
    out[:, 0] = square
    for k, (shift, axis) in enumerate(DISPLACEMENTS, start=1):
        moved = np.roll(square, shift, axis=1 + axis)
        wrapped = 0 if shift > 0 else SIDE - 1       # the row or column that came round
        if axis == 0:
            moved[:, wrapped, :] = 0
        else:
            moved[:, :, wrapped] = 0
        out[:, k] = moved
    return out.reshape(len(images), 1 + len(DISPLACEMENTS), SIDE * SIDE)


def expand(images, labels, seed=0):
    """``(images, labels)`` expanded: 5n pairs, each image followed by its four
    moved copies (``displaced``), then shuffled as the book shuffles its list of
    pairs (``random.shuffle``), here with ``random.Random(seed)`` so that the
    file is the same each time."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 2 or images.shape[1] != SIDE * SIDE or labels.shape != (len(images),):
        raise ValueError("expected (n, 784) images and (n,) labels, got {} and {}".format(
            images.shape, labels.shape))
    copies = 1 + len(DISPLACEMENTS)
    all_images = displaced(images).reshape(-1, SIDE * SIDE)
    all_labels = np.repeat(labels, copies)
    order = list(range(len(all_images)))
    random.Random(seed).shuffle(order)
    return all_images[order], all_labels[order]


def expand_mnist(path=None, directory=None, seed=0, force=False, log=None):
    """The path of ``mnist_expanded.pkl.gz`` in ``directory`` (default: cnet's cache,
    ``cnet.datasets.cache_dir()``), made from MNIST (found as ``load_data(path)``
    finds it) unless it is there already (``force``: make it again).

    It holds what the book's file holds: ``(training, validation, test)``, the
    training part the 50,000 images expanded to 250,000 (``expand``), validation
    and test as they are; images float32 (n, 784), labels int64.
    """
    from cnet import datasets, mnist_loader
    directory = os.path.abspath(directory or datasets.cache_dir())
    target = os.path.join(directory, EXPANDED)
    if os.path.isfile(target) and not force:
        return target
    say = log or (lambda message: None)
    training, validation, test = mnist_loader.load_data(path)
    say("Expanding the {:,} training images".format(len(training[0])))
    training = expand(*training, seed=seed)
    os.makedirs(directory, exist_ok=True)
    say("Saving {:,} training pairs to {}".format(len(training[0]), target))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + EXPANDED + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as f:
            pickle.dump((training, tuple(validation), tuple(test)), f, protocol=4)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    return target
