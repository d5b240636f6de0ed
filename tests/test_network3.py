"""cnet.network3 against the book's chapter-6 network3.py, its semantics computed
here from the book's formulas in plain NumPy (loops where they make the formula
plain), never by cnet's own helpers: the initial draws, the SGD step and its
L2 term, in-order mini-batches, finite differences of the whole cost, dropout,
the printed lines, load_data_shared, JSON files and the ensemble vote.

The bad inputs of the issue are in test_network3_checks.py."""
import gzip
import json
import os
import pickle
import re

import numpy as np
import pytest

from cnet import _kernels, mnist_loader, network3

from test_datasets import fake_mnist, write_fake_idx, write_fake_pickle

ACTIVATION_FN = {"sigmoid": network3.sigmoid, "tanh": network3.tanh, "relu": network3.ReLU,
                 "linear": network3.linear}


pytestmark = pytest.mark.usefixtures("restore_floatx")


# ------------------------------------------------------------ the book's arithmetic, by hand
# A network is described by tuples, from which both cnet's layers and the hand
# reference below are made:
#   ("conv", filter_shape, image_shape, poolsize, activation)
#   ("full", n_in, n_out, activation, p_dropout)
#   ("softmax", n_in, n_out, p_dropout)

def book_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# the activation and its derivative written in terms of z and the activation a
HAND_ACT = {
    "sigmoid": (book_sigmoid, lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a ** 2),
    "relu": (lambda z: np.maximum(0.0, z), lambda z, a: (z > 0).astype(float)),
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
}


def book_conv(x, w):
    """Theano's valid conv2d: out[n, f, y, x] = Σ_c Σ_i Σ_j x[n, c, y+i, x+j] w[f, c, h−1−i, w−1−j]."""
    m, c, H, W = x.shape
    f, c2, h, k = w.shape
    assert c == c2
    out = np.zeros((m, f, H - h + 1, W - k + 1))
    for n in range(m):
        for g in range(f):
            for yy in range(H - h + 1):
                for xx in range(W - k + 1):
                    out[n, g, yy, xx] = np.sum(x[n, :, yy:yy + h, xx:xx + k] * w[g, :, ::-1, ::-1])
    return out


def book_conv_backward(x, w, d):
    """(∂C/∂w, ∂C/∂x) of book_conv given d = ∂C/∂out."""
    f, c, h, k = w.shape
    dw, dx = np.zeros(w.shape), np.zeros(x.shape)
    for n in range(d.shape[0]):
        for g in range(f):
            for yy in range(d.shape[2]):
                for xx in range(d.shape[3]):
                    dw[g] += d[n, g, yy, xx] * x[n, :, yy:yy + h, xx:xx + k][:, ::-1, ::-1]
                    dx[n, :, yy:yy + h, xx:xx + k] += d[n, g, yy, xx] * w[g, :, ::-1, ::-1]
    return dw, dx


def book_pool(a, pool):
    """max_pool_2d(ignore_border=True): the maximum of each whole window."""
    ph, pw = pool
    m, f, Y, X = a.shape
    out = np.zeros((m, f, Y // ph, X // pw))
    for n in range(m):
        for g in range(f):
            for i in range(Y // ph):
                for j in range(X // pw):
                    out[n, g, i, j] = a[n, g, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw].max()
    return out


def book_pool_backward(a, pooled, d, pool):
    """Theano's rule: a window's gradient goes to every input equal to its maximum."""
    ph, pw = pool
    grad = np.zeros(a.shape)
    for n in range(a.shape[0]):
        for g in range(a.shape[1]):
            for i in range(pooled.shape[2]):
                for j in range(pooled.shape[3]):
                    window = a[n, g, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw]
                    grad[n, g, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw] += \
                        (window == pooled[n, g, i, j]) * d[n, g, i, j]
    return grad


def book_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hand_forward(desc, params, x, training=False, masks=None):
    """The last layer's output and each layer's cache.  In training a dense layer's
    input is multiplied by masks[l] (when given); in evaluation its x·w is scaled
    by (1 − p)."""
    caches = []
    a = np.asarray(x, dtype=np.float64)
    for l, (d, (w, b)) in enumerate(zip(desc, params)):
        if d[0] == "conv":
            inp = a.reshape((len(a),) + tuple(d[2][1:]))
            conv = book_conv(inp, w)
            pooled = book_pool(conv, d[3])
            z = pooled + b[None, :, None, None]
            a = HAND_ACT[d[4]][0](z)
            caches.append((inp, conv, pooled, z, a))
        else:
            p = d[4] if d[0] == "full" else d[3]
            inp = a.reshape(len(a), -1)
            if training:
                used = inp * masks[l] if masks is not None and l in masks else inp
                z = used @ w + b
            else:
                used = inp
                z = (1 - p) * (inp @ w) + b
            a = HAND_ACT[d[3]][0](z) if d[0] == "full" else book_softmax(z)
            caches.append((a.shape, inp, used, z, a))
    return a, caches


def hand_cost(desc, params, x, y, lmbda=0.0, num_training_batches=1, masks=None):
    """The book's cost: −mean ln a_y of the (dropout) output + ½ λ Σ‖w‖² / num_training_batches."""
    a, _ = hand_forward(desc, params, x, training=True, masks=masks)
    l2 = sum(np.sum(w ** 2) for w, _ in params)
    return -np.mean(np.log(a[np.arange(len(y)), y])) + 0.5 * lmbda * l2 / num_training_batches


def hand_gradients(desc, params, x, y, lmbda=0.0, num_training_batches=1, masks=None):
    """∂C/∂w and ∂C/∂b per layer of hand_cost, by backpropagation written out."""
    a, caches = hand_forward(desc, params, x, training=True, masks=masks)
    m = len(y)
    delta = a.copy()
    delta[np.arange(m), y] -= 1
    delta /= m                                   # ∂C/∂z of the softmax layer
    grads = [None] * len(desc)
    for l in range(len(desc) - 1, -1, -1):
        d, w = desc[l], params[l][0]
        if d[0] == "conv":
            inp, conv, pooled, z, out = caches[l]
            dz = delta.reshape(z.shape) * HAND_ACT[d[4]][1](z, out)
            d_conv = book_pool_backward(conv, pooled, dz, d[3])
            dw, dx = book_conv_backward(inp, w, d_conv)
            grads[l] = (dw + lmbda * w / num_training_batches, dz.sum(axis=(0, 2, 3)))
            delta = dx
        else:
            shape, inp, used, z, out = caches[l]
            dz = delta if d[0] == "softmax" else delta * HAND_ACT[d[3]][1](z, out)
            grads[l] = (used.T @ dz + lmbda * w / num_training_batches, dz.sum(axis=0))
            delta = dz @ w.T
            if masks is not None and l in masks:
                delta = delta * masks[l]
    return grads


def hand_step(desc, params, x, y, eta, lmbda, num_training_batches):
    grads = hand_gradients(desc, params, x, y, lmbda, num_training_batches)
    return [(w - eta * gw, b - eta * gb) for (w, b), (gw, gb) in zip(params, grads)]


def hand_predict(desc, params, x):
    a, _ = hand_forward(desc, params, x)
    return np.argmax(a, axis=1)


def build(desc, **kwargs):
    layers = []
    for d in desc:
        if d[0] == "conv":
            layers.append(network3.ConvPoolLayer(filter_shape=d[1], image_shape=d[2], poolsize=d[3],
                                                 activation_fn=ACTIVATION_FN[d[4]]))
        elif d[0] == "full":
            layers.append(network3.FullyConnectedLayer(n_in=d[1], n_out=d[2], activation_fn=ACTIVATION_FN[d[3]],
                                                       p_dropout=d[4]))
        else:
            layers.append(network3.SoftmaxLayer(n_in=d[1], n_out=d[2], p_dropout=d[3]))
    mbs = next((d[2][0] for d in desc if d[0] == "conv"), kwargs.pop("mini_batch_size", None))
    return network3.Network(layers, mbs, **kwargs)


def params_of(net):
    return [(layer.w.get_value().astype(np.float64), layer.b.get_value().astype(np.float64))
            for layer in net.layers]


def randomize(net, rng, scale=0.5):
    """Random parameters everywhere (the softmax layer starts at zero, which hides much)."""
    for layer in net.layers:
        for shared in (layer.w, layer.b):
            shared.set_value(rng.normal(0, scale, shared.get_value(borrow=True).shape))


def assert_params(net, params, rtol=1e-10, atol=1e-13):
    for l, (layer, (w, b)) in enumerate(zip(net.layers, params)):
        np.testing.assert_allclose(layer.w.get_value(borrow=True), w, rtol=rtol, atol=atol,
                                   err_msg="layers[{}].w".format(l))
        np.testing.assert_allclose(layer.b.get_value(borrow=True), b, rtol=rtol, atol=atol,
                                   err_msg="layers[{}].b".format(l))


MBS = 4
# 7×8 images; a 2×3 filter (so that the flip shows in both directions), no pooling;
# then a 3×2 filter on the 6×6 maps and 2×2 pooling of the 4×5 result, dropping a column
TINY = [("conv", (2, 1, 2, 3), (MBS, 1, 7, 8), (1, 1), "relu"),
        ("conv", (3, 2, 3, 2), (MBS, 2, 6, 6), (2, 2), "sigmoid"),
        ("full", 12, 5, "tanh", 0.0),
        ("softmax", 5, 3, 0.0)]
N_IN = 56


def tiny_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, N_IN))
    x[rng.random((n, N_IN)) < 0.3] = 0.0
    return x, rng.integers(0, 3, n)


def tiny_net(seed=1, dtype="float64"):
    network3.floatX = dtype
    net = build(TINY)
    randomize(net, np.random.default_rng(seed))
    return net


# ------------------------------------------------------------ the hand reference itself

def test_hand_convolution_flips_the_filter():
    """The reference's convolution against the formula with explicit indices, on a
    case where the flip matters (an asymmetric filter), and against a known value."""
    x = np.arange(1.0, 13.0).reshape(1, 1, 3, 4)
    w = np.array([[[[1.0, 2.0], [0.0, -1.0]]]])
    out = book_conv(x, w)
    # out[0,0,0,0] = x00·w11 + x01·w10 + x10·w01 + x11·w00 = 1·(−1) + 2·0 + 5·2 + 6·1
    assert out[0, 0, 0, 0] == 15.0
    for yy in range(2):
        for xx in range(3):
            s = sum(x[0, 0, yy + i, xx + j] * w[0, 0, 1 - i, 1 - j] for i in range(2) for j in range(2))
            assert out[0, 0, yy, xx] == s


# ------------------------------------------------------------ initial draws

def book_draws(seed, desc, dtype):
    """The book's np.random draws in its order: per layer w then b; zeros for softmax."""
    np.random.seed(seed)
    out = []
    for d in desc:
        if d[0] == "conv":
            f, _, h, k = d[1]
            n_out = (f * h * k) // (d[3][0] * d[3][1])       # Python 2's integer division
            w = np.asarray(np.random.normal(loc=0, scale=np.sqrt(1.0 / n_out), size=d[1]), dtype=dtype)
            b = np.asarray(np.random.normal(loc=0, scale=1.0, size=(f,)), dtype=dtype)
        elif d[0] == "full":
            w = np.asarray(np.random.normal(loc=0.0, scale=np.sqrt(1.0 / d[2]), size=(d[1], d[2])), dtype=dtype)
            b = np.asarray(np.random.normal(loc=0.0, scale=1.0, size=(d[2],)), dtype=dtype)
        else:
            w, b = np.zeros((d[1], d[2]), dtype=dtype), np.zeros((d[2],), dtype=dtype)
        out.append((w, b))
    return out, np.random.random()


# 3 filters of 3×3 and 2×2 pooling: the book's n_out is 27 // 4 = 6, not 6.75
DRAWS = [("conv", (3, 1, 3, 3), (2, 1, 8, 8), (2, 2), "sigmoid"),
         ("conv", (4, 3, 2, 2), (2, 3, 3, 3), (2, 2), "relu"),
         ("full", 4, 7, "sigmoid", 0.0),
         ("full", 7, 6, "relu", 0.5),
         ("softmax", 6, 10, 0.0)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_initial_parameters_are_the_books_draws(dtype):
    want, next_draw = book_draws(11, DRAWS, dtype)
    if dtype != "float32":
        network3.floatX = dtype
    assert network3.floatX == dtype
    np.random.seed(11)
    net = build(DRAWS)
    assert np.random.random() == next_draw          # no draw more nor fewer
    for l, (layer, (w, b)) in enumerate(zip(net.layers, want)):
        for got, expected in ((layer.w.get_value(borrow=True), w), (layer.b.get_value(borrow=True), b)):
            assert got.dtype == np.dtype(dtype), "layers[{}]".format(l)
            np.testing.assert_array_equal(got, expected, err_msg="layers[{}]".format(l))
        np.testing.assert_array_equal(layer.w.eval(), w)
    # with another n_out divisor the scale differs: the test tells them apart
    np.random.seed(11)
    assert not np.array_equal(np.asarray(np.random.normal(0, np.sqrt(1.0 / 6.75), (3, 1, 3, 3)), dtype),
                              net.layers[0].w.get_value())


def test_floatx_is_read_when_a_layer_is_built():
    assert network3.floatX == "float32"              # the book's GPU = True
    early = network3.SoftmaxLayer(3, 2)
    network3.floatX = "float64"
    late = network3.FullyConnectedLayer(3, 3)
    assert early.w.get_value().dtype == np.float32 and late.w.get_value().dtype == np.float64
    net = network3.Network([late, network3.SoftmaxLayer(3, 2)], 2)
    assert net.predict(np.zeros((5, 3))).shape == (5,)
    network3.floatX = "float32"
    with pytest.raises(ValueError, match=r"layers\[1\] is float32 but layers\[0\] is float64"):
        network3.Network([late, network3.SoftmaxLayer(3, 2)], 2)


# ------------------------------------------------------------ SGD steps

def test_one_step_is_the_books_update():
    net = tiny_net()
    start = params_of(net)
    x, y = tiny_data(MBS)
    net.SGD((x, y), 1, MBS, 0.7, (x, y), None, lmbda=3.0)
    # one mini-batch: the L2 term is divided by num_training_batches = 1, not n = 4
    want = hand_step(TINY, start, x, y, 0.7, 3.0, 1)
    assert_params(net, want)
    wrong = hand_step(TINY, start, x, y, 0.7, 3.0, MBS)
    assert not np.allclose(wrong[0][0], net.layers[0].w.get_value(), rtol=1e-6)
    # and the conv weights are in the L2 sum
    no_conv_l2 = [(w - 0.7 * 3.0 * w * (d[0] != "conv"), b) for (w, b), d in
                  zip(hand_step(TINY, start, x, y, 0.7, 0.0, 1), TINY)]
    assert not np.allclose(no_conv_l2[0][0], net.layers[0].w.get_value(), rtol=1e-6)


def test_mini_batches_in_order_and_the_remainder_untrained():
    net = tiny_net(seed=2)
    params = params_of(net)
    x, y = tiny_data(3 * MBS + 3, seed=5)
    net.SGD((x, y), 2, MBS, 0.4, (x[:MBS], y[:MBS]), None, lmbda=1.5)
    for _epoch in range(2):
        for j in range(3):
            rows = slice(j * MBS, (j + 1) * MBS)
            params = hand_step(TINY, params, x[rows], y[rows], 0.4, 1.5, 3)
    assert_params(net, params)
    # the remainder matters when trained, and another order gives other parameters
    again = tiny_net(seed=2)
    again.SGD((x[::-1].copy(), y[::-1].copy()), 1, MBS, 0.4, (x[:MBS], y[:MBS]), None, lmbda=1.5)
    assert not np.allclose(again.layers[2].w.get_value(), net.layers[2].w.get_value())


def test_float32_step_stays_float32_and_near_the_books():
    net = tiny_net(dtype="float32")
    start = params_of(net)
    x, y = tiny_data(MBS)
    net.SGD((x, y), 1, MBS, 0.5, (x, y), None, lmbda=0.5)
    for layer in net.layers:
        assert layer.w.get_value(borrow=True).dtype == np.float32
        assert layer.b.get_value(borrow=True).dtype == np.float32
    assert_params(net, hand_step(TINY, start, x, y, 0.5, 0.5, 1), rtol=2e-4, atol=2e-5)


def test_pool_ties_pass_the_gradient_to_every_maximum():
    """Theano's max-pool gradient goes to every input equal to the window's maximum:
    images constant over their top rows and dyadic weights make exact ties."""
    desc = [("conv", (2, 1, 2, 2), (2, 1, 6, 5), (2, 2), "sigmoid"), ("softmax", 8, 3, 0.0)]
    network3.floatX = "float64"
    net = build(desc)
    rng = np.random.default_rng(12)
    net.layers[0].w.set_value(rng.integers(-8, 9, (2, 1, 2, 2)) / 8.0)
    net.layers[1].w.set_value(rng.normal(0, 1, (8, 3)))
    x = rng.random((2, 6, 5))
    x[0, :4], x[1, :3] = 0.5, 0.25
    x, y = x.reshape(2, 30), np.array([1, 2])
    params = params_of(net)
    conv = book_conv(x.reshape(2, 1, 6, 5), params[0][0])
    pooled = book_pool(conv, (2, 2))
    ties = [(conv[n, f, 2 * i:2 * i + 2, 2 * j:2 * j + 2] == pooled[n, f, i, j]).sum()
            for n in range(2) for f in range(2) for i in range(2) for j in range(2)]
    assert max(ties) == 4 and min(ties) == 1          # some windows tie, some do not
    net.SGD((x, y), 1, 2, 0.5, (x, y), None)
    assert_params(net, hand_step(desc, params, x, y, 0.5, 0.0, 1))


def test_gradients_match_finite_differences_of_the_whole_cost():
    desc = [("conv", (2, 1, 2, 3), (MBS, 1, 7, 8), (1, 1), "tanh")] + TINY[1:]
    network3.floatX = "float64"
    net = build(desc)
    randomize(net, np.random.default_rng(4))
    x, y = tiny_data(MBS, seed=9)
    lmbda, eta, h = 0.3, 1e-4, 1e-6
    before = params_of(net)
    net.SGD((x, y), 1, MBS, eta, (x, y), None, lmbda=lmbda)
    after = params_of(net)
    for l, ((w0, b0), (w1, b1)) in enumerate(zip(before, after)):
        for name, p0, p1, idx_param in (("w", w0, w1, 0), ("b", b0, b1, 1)):
            grad = (p0 - p1) / eta
            for idx in np.ndindex(p0.shape):
                costs = []
                for delta in (h, -h):
                    params = [[w.copy(), b.copy()] for w, b in before]
                    params[l][idx_param][idx] += delta
                    costs.append(hand_cost(desc, params, x, y, lmbda, 1))
                fd = (costs[0] - costs[1]) / (2 * h)
                assert grad[idx] == pytest.approx(fd, rel=1e-5, abs=1e-7), "layers[{}].{}{}".format(l, name, idx)


# ------------------------------------------------------------ dropout

def test_evaluation_scales_x_w_by_one_minus_p():
    desc = [("full", 10, 8, "sigmoid", 0.5), ("softmax", 8, 4, 0.3)]
    network3.floatX = "float64"
    net = build(desc, mini_batch_size=5)
    randomize(net, np.random.default_rng(3), scale=1.5)
    X = np.random.default_rng(4).random((300, 10))
    want = hand_predict(desc, params_of(net), X)
    np.testing.assert_array_equal(net.predict(X), want)
    # the scaling decides some of these predictions, so the comparison sees it
    unscaled = hand_predict([("full", 10, 8, "sigmoid", 0.0), ("softmax", 8, 4, 0.0)], params_of(net), X)
    assert np.any(unscaled != want)
    # and accuracy is the fraction predicted right
    Y = np.random.default_rng(5).integers(0, 4, 300)
    assert net.accuracy((X, Y)) == np.mean(want == Y)


def single_example_masks(n=20000, p=0.3, steps=2, **kwargs):
    """The kept inputs of a SoftmaxLayer(n, 2, p_dropout=p) at each of ``steps``
    steps of one example of ones: a dropped input's weights do not move."""
    network3.floatX = "float64"
    net = network3.Network([network3.SoftmaxLayer(n, 2, p_dropout=p)], 1, **kwargs)
    x, y = np.ones((1, n)), np.zeros(1, dtype=int)
    masks, w = [], net.layers[0].w.get_value()
    for _ in range(steps):
        net.SGD((x, y), 1, 1, 1e-6, (x, y), None)
        after = net.layers[0].w.get_value()
        masks.append(after[:, 0] != w[:, 0])
        if not masks[1:]:
            # the first step from w = 0: a = (½, ½), so a kept input's weight moves by
            # exactly η·½, with no 1/(1 − p) scaling in training (the book has none)
            assert np.all(after[masks[0], 0] == 1e-6 * 0.5) and np.all(after[~masks[0], 0] == 0)
        w = after
    return masks


def test_dropout_keeps_inputs_at_rate_one_minus_p_fresh_each_step(capsys):
    p = 0.3
    m0, m1 = single_example_masks(p=p)
    n = len(m0)
    tolerance = 5 * np.sqrt(p * (1 - p) / n)
    for m in (m0, m1, m0[:n // 2], m0[n // 2:]):
        assert abs(m.mean() - (1 - p)) < tolerance * np.sqrt(n / len(m))
    # a fresh mask at each step: the two agree as independent draws would
    assert abs(np.mean(m0 == m1) - (p * p + (1 - p) ** 2)) < 0.02
    # and no dropout with p = 0
    network3.floatX = "float64"
    net = network3.Network([network3.SoftmaxLayer(50, 2)], 1)
    net.SGD((np.ones((1, 50)), np.zeros(1, dtype=int)), 1, 1, 1.0, (np.ones((1, 50)), [0]), None)
    assert np.all(net.layers[0].w.get_value()[:, 0] == 0.5)


def test_each_example_of_a_mini_batch_has_its_own_mask(capsys):
    n, p = 20000, 0.4
    network3.floatX = "float64"
    net = network3.Network([network3.SoftmaxLayer(n, 2, p_dropout=p)], 2)
    x, y = np.ones((2, n)), np.zeros(2, dtype=int)
    x[1] = 2.0
    net.SGD((x, y), 1, 2, 1.0, (x, y), None)
    # ∂C/∂w[i, 0] = ½ Σ_e (a_e0 − 1) x_ei k_ei = −¼ (k_0i + 2 k_1i) from w = 0
    code = net.layers[0].w.get_value()[:, 0] / 0.25
    assert set(np.unique(code)) <= {0.0, 1.0, 2.0, 3.0}
    k0, k1 = code.astype(int) & 1, code.astype(int) >> 1
    for k in (k0, k1):
        assert abs(k.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    assert abs(np.mean(k0 == k1) - (p * p + (1 - p) ** 2)) < 0.02


def test_masks_follow_the_seed(capsys):
    a = single_example_masks(n=4000, seed=5)
    b = single_example_masks(n=4000, seed=5)
    c = single_example_masks(n=4000, seed=6)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(a, c):
        assert 0.5 < np.mean(x == y) < 0.66
    # the default seed repeats too
    for x, y in zip(single_example_masks(n=4000), single_example_masks(n=4000)):
        np.testing.assert_array_equal(x, y)


def test_masks_are_the_same_for_both_backends(capsys):
    compiled = _kernels.get("cython", np.float64) if _kernels.compiled is not None else None
    if compiled is None or not hasattr(compiled, "dropout_keep"):
        pytest.skip("the compiled kernels have no dropout_keep yet")
    for x, y in zip(single_example_masks(n=4000, seed=3, backend="numpy"),
                    single_example_masks(n=4000, seed=3, backend="cython")):
        np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------ the printed lines

def book_lines(desc, params, train, epochs, m, eta, validation, test, lmbda=0.0):
    """The lines the book's SGD prints, its loop run over the hand reference."""
    (x, y), (vx, vy), (tx, ty) = train, validation, test
    num_training_batches = len(x) // m

    def batch_accuracy(X, Y):
        return np.mean([np.mean(hand_predict(desc, params, X[j * m:(j + 1) * m]) == Y[j * m:(j + 1) * m])
                        for j in range(len(X) // m)])

    lines, best_validation_accuracy, best_iteration, accuracies = [], 0.0, None, []
    for epoch in range(epochs):
        for minibatch_index in range(num_training_batches):
            iteration = num_training_batches * epoch + minibatch_index
            if iteration % 1000 == 0:
                lines.append("Training mini-batch number {0}".format(iteration))
            rows = slice(minibatch_index * m, (minibatch_index + 1) * m)
            params = hand_step(desc, params, x[rows], y[rows], eta, lmbda, num_training_batches)
            if (iteration + 1) % num_training_batches == 0:
                validation_accuracy = batch_accuracy(vx, vy)
                accuracies.append(validation_accuracy)
                lines.append("Epoch {0}: validation accuracy {1:.2%}".format(epoch, validation_accuracy))
                if validation_accuracy >= best_validation_accuracy:
                    lines.append("This is the best validation accuracy to date.")
                    best_validation_accuracy = validation_accuracy
                    best_iteration = iteration
                    test_accuracy = batch_accuracy(tx, ty)
                    lines.append("The corresponding test accuracy is {0:.2%}".format(test_accuracy))
    lines.append("Finished training network.")
    lines.append("Best validation accuracy of {0:.2%} obtained at iteration {1}".format(
        best_validation_accuracy, best_iteration))
    lines.append("Corresponding test accuracy of {0:.2%}".format(test_accuracy))
    return lines, accuracies


def test_printed_lines_are_the_books(capsys):
    desc = [("full", 6, 4, "sigmoid", 0.0), ("softmax", 4, 3, 0.0)]
    m, epochs, eta = 2, 6, 0.003
    network3.floatX = "float64"
    net = build(desc, mini_batch_size=m)
    randomize(net, np.random.default_rng(0), scale=1.0)
    rng = np.random.default_rng(2)
    # 401 examples: 200 mini-batches (one example left over), 1,200 iterations; all
    # labelled 0, while the validation labels are the untrained net's answers, so
    # that the validation accuracy first stays (a tie), then falls
    train = (rng.random((401, 6)), np.zeros(401, dtype=int))
    vx = rng.random((9, 6))
    validation = (vx, hand_predict(desc, params_of(net), vx))   # 4 mini-batches, one left over
    test = (rng.random((7, 6)), rng.integers(0, 3, 7))          # 3 mini-batches
    want, accuracies = book_lines(desc, params_of(net), train, epochs, m, eta, validation, test)
    capsys.readouterr()
    net.SGD(train, epochs, m, eta, validation, test)
    got = capsys.readouterr().out.splitlines()
    assert got == want
    # what the run covers: both progress lines, an epoch that is not the best, a tie
    assert got[0] == "Training mini-batch number 0" and "Training mini-batch number 1000" in got
    assert got.index("Training mini-batch number 1000") == 1 + sum(
        1 + 2 * (a >= max(accuracies[:i + 1])) for i, a in enumerate(accuracies[:5]))
    assert any(a < max(accuracies[:i]) for i, a in enumerate(accuracies) if i)
    assert any(a == max(accuracies[:i]) for i, a in enumerate(accuracies) if i)
    for line in got:
        if line.startswith("Epoch"):
            assert re.fullmatch(r"Epoch \d: validation accuracy \d+\.\d\d%", line)
    assert got[-3] == "Finished training network."
    assert got[-2] == "Best validation accuracy of 87.50% obtained at iteration 399"   # the tie's


# ------------------------------------------------------------ load_data_shared

def read_parts(path):
    with gzip.open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_load_data_shared_reads_a_given_path(tmp_path, dtype, capsys):
    network3.floatX = dtype
    path = str(tmp_path / "mine.pkl.gz")
    write_fake_pickle(path, fake_mnist(n_train=40, n_test=12), 30)
    want = read_parts(path)
    data = network3.load_data_shared(path)
    assert len(data) == 3
    for (x, y), (wx, wy) in zip(data, want):
        assert x.get_value(borrow=True) is x.get_value(borrow=True)      # borrowed: the array itself
        assert x.get_value(borrow=True).dtype == np.dtype(dtype) and x.get_value().shape[1] == 784
        np.testing.assert_array_equal(x.get_value(), np.asarray(wx, dtype=dtype))
        assert y.eval().dtype == np.int32                                 # the book's T.cast(y, "int32")
        np.testing.assert_array_equal(y.eval(), wy)
    assert [network3.size(d) for d in data] == [30, 10, 12]
    training_x = data[0][0]
    copy = training_x.get_value()
    copy[0, 0] = 7.0                                     # get_value() and eval() are copies
    training_x.eval()[0, 1] = 7.0
    assert training_x.get_value(borrow=True)[0, 0] != 7.0 and training_x.get_value(borrow=True)[0, 1] != 7.0
    training_x.set_value(np.full((30, 784), 0.25))
    assert training_x.get_value(borrow=True).dtype == np.dtype(dtype)
    assert np.all(training_x.eval() == 0.25)
    # the shared pairs train a network as they are
    net = network3.Network([network3.FullyConnectedLayer(784, 5), network3.SoftmaxLayer(5, 10)], 10)
    net.SGD(data[0], 1, 10, 0.1, data[1], data[2])
    assert "Finished training network." in capsys.readouterr().out


def isolated(tmp_path, monkeypatch, data_dir):
    """CNET_DATA_DIR = data_dir, an empty cache, and a working directory without ../data."""
    monkeypatch.setenv("CNET_DATA_DIR", str(data_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    work = tmp_path / "book" / "src"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    assert not os.path.exists("../data")


def test_load_data_shared_finds_the_expanded_file_by_its_book_name(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    isolated(tmp_path, monkeypatch, data_dir)
    with pytest.raises(FileNotFoundError, match="expand-mnist"):
        network3.load_data_shared("../data/mnist_expanded.pkl.gz")
    path = str(data_dir / "mnist_expanded.pkl.gz")
    write_fake_pickle(path, fake_mnist(n_train=50, n_test=10, seed=3), 40)
    data = network3.load_data_shared("../data/mnist_expanded.pkl.gz")       # as conv.py says it
    for (x, y), (wx, wy) in zip(data, read_parts(path)):
        np.testing.assert_array_equal(x.get_value(), wx)
        np.testing.assert_array_equal(y.eval(), wy)


def test_load_data_shared_default_path_falls_back_to_cnets_mnist(tmp_path, monkeypatch):
    data_dir = tmp_path / "idx"
    data_dir.mkdir()
    write_fake_idx(str(data_dir), fake_mnist(n_train=10040, n_test=15))    # IDX files only: no pickle
    isolated(tmp_path, monkeypatch, data_dir)
    data = network3.load_data_shared()
    want = mnist_loader.load_data(str(data_dir))
    assert [network3.size(d) for d in data] == [40, 10000, 15]
    for (x, y), (wx, wy) in zip(data, want):
        np.testing.assert_array_equal(x.get_value(), wx)
        np.testing.assert_array_equal(y.eval(), wy)


def test_load_data_shared_default_path_gives_real_mnist(mnist_dir, tmp_path, monkeypatch):
    isolated(tmp_path, monkeypatch, mnist_dir)
    data = network3.load_data_shared()
    assert [network3.size(d) for d in data] == [50000, 10000, 10000]
    for (x, y), (wx, wy) in zip(data, mnist_loader.load_data(mnist_dir)):
        assert x.get_value(borrow=True).shape == (len(wx), 784)
        np.testing.assert_array_equal(x.get_value(borrow=True), wx)
        np.testing.assert_array_equal(y.eval(), wy)


# ------------------------------------------------------------ JSON files

SAVED = [("conv", (2, 1, 3, 3), (3, 1, 8, 8), (2, 2), "relu"),
         ("conv", (3, 2, 2, 2), (3, 2, 3, 3), (1, 2), "tanh"),
         ("full", 6, 5, "linear", 0.25),
         ("full", 5, 4, "sigmoid", 0.0),
         ("softmax", 4, 10, 0.1)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_and_load_round_trip(tmp_path, dtype):
    network3.floatX = dtype
    net = build(SAVED, seed=17)
    randomize(net, np.random.default_rng(1))
    path = str(tmp_path / "net.json")
    net.save(path)
    network3.floatX = "float64" if dtype == "float32" else "float32"    # the file's precision wins
    state = np.random.get_state()
    loaded = network3.load(path)
    assert np.random.get_state()[1].tolist() == state[1].tolist()      # loading draws nothing
    assert loaded.mini_batch_size == 3 and loaded.seed == 17
    for before, after in zip(net.layers, loaded.layers):
        assert type(after) is type(before)
        for name in ("filter_shape", "image_shape", "poolsize", "n_in", "n_out", "p_dropout", "activation_fn"):
            if hasattr(before, name):
                assert getattr(after, name) == getattr(before, name), name
        for a, b in ((after.w, before.w), (after.b, before.b)):
            assert a.get_value(borrow=True).dtype == np.dtype(dtype)
            np.testing.assert_array_equal(a.get_value(), b.get_value())
    X = np.random.default_rng(2).random((50, 64))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert loaded.layers[0].activation_fn is network3.ReLU
    assert loaded.layers[2].activation_fn is network3.linear


def test_a_saved_file_has_the_permissions_open_would_give(tmp_path):
    # written atomically through a temporary file (0600), then given the umask's mode
    umask = os.umask(0o022)
    try:
        build(SAVED, seed=1).save(str(tmp_path / "net.json"))
    finally:
        os.umask(umask)
    assert os.stat(str(tmp_path / "net.json")).st_mode & 0o777 == 0o644
    assert os.listdir(str(tmp_path)) == ["net.json"]


def test_a_corrupted_file_names_the_layer(tmp_path):
    network3.floatX = "float64"
    path = tmp_path / "net.json"
    build(SAVED).save(str(path))
    good = json.loads(path.read_text())

    def broken(change):
        data = json.loads(json.dumps(good))
        change(data)
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(data))
        return str(bad)

    with pytest.raises(ValueError, match=r"bad\.json: layers\[1\]: w has shape \(2, 2\); expected \(3, 2, 2, 2\)"):
        network3.load(broken(lambda d: d["layers"][1].update(w=[[1.0, 2.0], [3.0, 4.0]])))
    with pytest.raises(ValueError, match=r"layers\[3\]: b has shape \(4,\); expected \(4,\) finite"):
        network3.load(broken(lambda d: d["layers"][3].update(b=[1.0, float("nan"), 0.0, 0.0])))
    with pytest.raises(ValueError, match=r"layers\[2\]: unknown kind 'dense'"):
        network3.load(broken(lambda d: d["layers"][2].update(kind="dense")))
    with pytest.raises(ValueError, match=r"layers\[0\]: activation_fn: .*'swish'"):
        network3.load(broken(lambda d: d["layers"][0].update(activation="swish")))
    with pytest.raises(ValueError, match=r"layers\[4\]: .*p_dropout"):
        network3.load(broken(lambda d: d["layers"][4].update(p_dropout=1.5)))
    with pytest.raises(ValueError, match=r"layers\[4\]: 'n_in'"):
        network3.load(broken(lambda d: d["layers"][4].pop("n_in")))
    with pytest.raises(ValueError, match=r"layers\[3\]: n_in is 7, but layers\[2\] puts out 5"):
        network3.load(broken(lambda d: d["layers"][3].update(n_in=7, w=[[0.0] * 4] * 7)))
    truncated = tmp_path / "cut.json"
    truncated.write_text(path.read_text()[:200])
    with pytest.raises(ValueError, match=r"cut\.json: not JSON"):
        network3.load(str(truncated))


# ------------------------------------------------------------ ensemble

def voter(predictions, classes=4):
    """A network whose prediction for row i of np.eye(n) is predictions[i]."""
    network3.floatX = "float64"
    net = network3.Network([network3.SoftmaxLayer(len(predictions), classes)], 1)
    w = np.zeros((len(predictions), classes))
    w[np.arange(len(predictions)), predictions] = 1.0
    net.layers[0].w.set_value(w)
    return net


def test_ensemble_is_the_plurality_vote(capsys):
    X, Y = np.eye(8), np.array([0, 1, 2, 3, 0, 1, 2, 3])
    answers = [[0, 1, 2, 3, 1, 1, 0, 0],
               [0, 1, 2, 0, 2, 2, 0, 3],
               [0, 2, 2, 3, 1, 2, 3, 3]]
    nets = [voter(a) for a in answers]
    for net, a in zip(nets, answers):
        np.testing.assert_array_equal(net.predict(X), a)
    votes = []
    for j in range(8):                                  # the vote, counted by hand
        counts = np.bincount([a[j] for a in answers], minlength=4)
        assert np.sum(counts == counts.max()) == 1      # no ties in this case
        votes.append(int(np.argmax(counts)))
    want_errors = [j for j in range(8) if votes[j] != Y[j]]
    assert want_errors == [4, 5, 6]
    capsys.readouterr()
    errors, predictions = network3.ensemble(nets, (X, Y))
    assert list(errors) == want_errors and list(predictions) == [votes[j] for j in want_errors] == [1, 2, 0]
    assert capsys.readouterr().out == "Accuracy is 62.50%\n"
    # one network: its own mistakes
    errors, predictions = network3.ensemble(nets[2:], (X, Y))
    assert list(errors) == [1, 4, 5, 6] and list(predictions) == [2, 1, 2, 3]
    assert capsys.readouterr().out == "Accuracy is 50.00%\n"


def test_a_dropout_step_is_the_books_given_its_masks(capsys):
    """With one example a step, the masks show in which rows of each dense layer's w
    move (lmbda = 0, no input zero); given them, the step is the book's: the masked
    input in the forward pass and in the gradient passed down."""
    desc = [("conv", (2, 1, 2, 3), (1, 1, 7, 8), (1, 1), "sigmoid"),
            ("conv", (3, 2, 3, 2), (1, 2, 6, 6), (2, 2), "tanh"),
            ("full", 12, 30, "sigmoid", 0.3),
            ("full", 30, 20, "sigmoid", 0.2),
            ("softmax", 20, 3, 0.5)]
    network3.floatX = "float64"
    net = build(desc, seed=8)
    randomize(net, np.random.default_rng(6))
    rng = np.random.default_rng(7)
    x, y = 0.1 + rng.random((1, N_IN)), np.array([2])
    tx, ty = x[[0, 0, 0, 0]], y[[0, 0, 0, 0]]
    params = seen = params_of(net)
    for _ in range(2):
        net.SGD((x, y), 1, 1, 0.8, (tx, ty), None)
        after = params_of(net)
        masks = {l: np.any(after[l][0] != seen[l][0], axis=1)[None, :] for l in (2, 3, 4)}
        seen = after
        for l in (2, 3, 4):
            assert 0 < masks[l].sum() < masks[l].size, "layers[{}] drops some inputs, not all".format(l)
        grads = hand_gradients(desc, params, x, y, masks=masks)
        params = [(w - 0.8 * gw, b - 0.8 * gb) for (w, b), (gw, gb) in zip(params, grads)]
        assert_params(net, params)
