"""The book's expanded MNIST (expand_mnist.py): the four one-pixel moves, the
shuffle, and the file, read back through cnet's own pickle reader."""
import os
import random

import numpy as np
import pytest

from cnet import datasets
from cnet._expand import EXPANDED, displaced, expand

from test_datasets import fake_mnist, write_fake_pickle


def book_copies(x):
    """The book's expand_mnist.py loop body, as it is written there, for one image."""
    image = np.reshape(x, (-1, 28))
    out = [x]
    for d, axis, index_position, index in [(1, 0, "first", 0), (-1, 0, "first", 27),
                                           (1, 1, "last", 0), (-1, 1, "last", 27)]:
        new_img = np.roll(image, d, axis)
        if index_position == "first":
            new_img[index, :] = np.zeros(28)
        else:
            new_img[:, index] = np.zeros(28)
        out.append(np.reshape(new_img, 784))
    return out


def test_the_four_moves_are_the_books():
    rng = np.random.default_rng(1)
    images = rng.random((6, 784)).astype(np.float32)   # no zero rows: every wrap shows
    ours = displaced(images)
    assert ours.shape == (6, 5, 784) and ours.dtype == np.float32
    for x, copies in zip(images, ours):
        for k, book in enumerate(book_copies(x)):
            np.testing.assert_array_equal(copies[k], book)


def test_a_moved_image_is_the_original_shifted_with_zeros_coming_in():
    image = np.arange(1, 785, dtype=np.float64).reshape(1, 784)
    down, up, right, left = displaced(image)[0, 1:].reshape(4, 28, 28)
    square = image.reshape(28, 28)
    assert (down[0] == 0).all() and (down[1:] == square[:-1]).all()
    assert (up[-1] == 0).all() and (up[:-1] == square[1:]).all()
    assert (right[:, 0] == 0).all() and (right[:, 1:] == square[:, :-1]).all()
    assert (left[:, -1] == 0).all() and (left[:, :-1] == square[:, 1:]).all()


def test_expand_shuffles_the_pairs_as_random_shuffle_does():
    rng = np.random.default_rng(2)
    images, labels = rng.random((7, 784)), np.arange(7)
    got_images, got_labels = expand(images, labels, seed=5)
    pairs = [(c, y) for x, y in zip(images, labels) for c in book_copies(x)]
    random.Random(5).shuffle(pairs)
    assert len(got_images) == 35
    for (x, y), gx, gy in zip(pairs, got_images, got_labels):
        np.testing.assert_array_equal(gx, x)
        assert gy == y
    again = expand(images, labels, seed=5)
    np.testing.assert_array_equal(again[0], got_images)
    assert not np.array_equal(expand(images, labels, seed=6)[1], got_labels)


def test_expand_refuses_images_that_are_not_mnist_shaped():
    with pytest.raises(ValueError, match=r"expected \(n, 784\) images and \(n,\) labels, got \(3, 100\)"):
        expand(np.zeros((3, 100)), np.zeros(3))


def test_the_file_reads_back_and_is_made_once(tmp_path):
    source = tmp_path / "mnist.pkl.gz"
    write_fake_pickle(source, fake_mnist(n_train=30, n_test=8), split=20)
    train, validation, test = datasets.read_pickle(source)
    out = tmp_path / "out"
    path = datasets.expand_mnist(str(source), directory=str(out))
    assert path == os.path.join(str(out), EXPANDED)
    e_train, e_validation, e_test = datasets.read_pickle(path)
    assert e_train[0].shape == (100, 784) and e_train[0].dtype == np.float32
    assert e_train[1].dtype == np.int64
    np.testing.assert_array_equal(e_train[0], expand(*train)[0])
    np.testing.assert_array_equal(e_train[1], expand(*train)[1])
    for got, want in ((e_validation, validation), (e_test, test)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    stamp = os.stat(path).st_mtime_ns
    assert datasets.expand_mnist(str(source), directory=str(out)) == path
    assert os.stat(path).st_mtime_ns == stamp                  # there already: not made again
    assert [p for p in os.listdir(out) if p.endswith(".part")] == []
