"""The pure-NumPy kernels: the reference every compiled result is tested against.

Written for clarity in the book's per-example style: ``backprop`` is
``network.py``'s, and ``train`` sums its gradients over each mini-batch exactly
as ``update_mini_batch`` does.  Same interface as the compiled kernels
(``_interface.pxi``): ``weights[l]`` is (n_{l+1}, n_l), ``biases[l]`` is
(n_{l+1}, 1), both float64 or both float32 -- the arithmetic is done in their
dtype; ``X`` holds one example per row; ``Y`` one desired output per row,
float64.  ``cost`` is any class with static ``fn(a, y)`` and ``delta(z, a, y)``.
"""
import numpy as np

from cnet.functions import sigmoid, sigmoid_prime

NAME = "numpy"


def supports(cost):
    """The NumPy kernels run any cost class."""
    return True


def _column(row, dtype):
    return np.asarray(row, dtype=dtype).reshape(-1, 1)


def _output(weights, biases, a):
    # a_{l+1} = σ(w_l a_l + b_l)
    for b, w in zip(biases, weights):
        a = sigmoid(np.dot(w, a) + b)
    return a


def feedforward(weights, biases, X):
    """The output activations a_L for each row of X: an (m, n_L) float64 array."""
    out = np.empty((X.shape[0], weights[-1].shape[0]), dtype=weights[-1].dtype)
    for k in range(X.shape[0]):
        out[k] = _output(weights, biases, _column(X[k], weights[0].dtype))[:, 0]
    return out


def predict(weights, biases, X):
    """argmax of the output activations for each row of X (first maximum on ties)."""
    return np.argmax(feedforward(weights, biases, X), axis=1)


def backprop(weights, biases, x, y, cost):
    """(nabla_b, nabla_w): the gradient of ``cost`` for the one example (x, y),
    as lists shaped like ``biases`` and ``weights``."""
    nabla_b = [np.zeros_like(b) for b in biases]
    nabla_w = [np.zeros_like(w) for w in weights]
    # feedforward, keeping every z and a
    activation = _column(x, weights[0].dtype)
    activations = [activation]
    zs = []
    for b, w in zip(biases, weights):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    # output error: δ_L = cost.delta(z_L, a_L, y)
    delta = cost.delta(zs[-1], activations[-1], _column(y, weights[0].dtype))
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    # backwards: δ_l = (w_{l+1}ᵀ δ_{l+1}) ⊙ σ'(z_l);  ∂C/∂b = δ,  ∂C/∂w = δ a_{l−1}ᵀ
    for l in range(2, len(weights) + 1):
        delta = np.dot(weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
    return nabla_b, nabla_w


def train(weights, biases, X, Y, order, mini_batch_size, eta, lmbda, n, cost, num_threads=1):
    """Run SGD over the mini-batches order[0:s], order[s:2s], … (s = mini_batch_size).

    Each step is w ← (1 − ηλ/n) w − (η/m) ∇w, b ← b − (η/m) ∇b with ∇ summed
    over the m examples of the mini-batch.  Updates ``weights`` and ``biases``
    in place.  Runs on one thread whatever ``num_threads`` is.
    """
    for start in range(0, len(order), mini_batch_size):
        batch = order[start:start + mini_batch_size]
        nabla_b = [np.zeros_like(b) for b in biases]
        nabla_w = [np.zeros_like(w) for w in weights]
        for e in batch:
            delta_nabla_b, delta_nabla_w = backprop(weights, biases, X[e], Y[e], cost)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        m = len(batch)
        _assign(weights + biases,
                [(1 - eta * (lmbda / n)) * w - (eta / m) * nw for w, nw in zip(weights, nabla_w)]
                + [b - (eta / m) * nb for b, nb in zip(biases, nabla_b)])


def _assign(arrays, values):
    """Set each of ``arrays`` to the value in the same place of ``values``, all of them:
    if a signal's exception (KeyboardInterrupt) cuts the copying short, it is done
    again in full (the values are fixed, so twice is the same) and then raised."""
    try:
        for array, value in zip(arrays, values):
            array[...] = value
    except BaseException:
        for array, value in zip(arrays, values):
            array[...] = value
        raise


def cost_and_predict(weights, biases, X, Y, cost, num_threads=1):
    """``(cost_sum(...), predict(...))``; with ``Y`` None, the sum is 0.0.  Runs on one
    thread whatever ``num_threads`` is."""
    return (0.0 if Y is None else cost_sum(weights, biases, X, Y, cost),
            predict(weights, biases, X))


def cost_sum(weights, biases, X, Y, cost):
    """Σ over the rows of X of cost.fn(a_L, y): the unregularised total cost."""
    dtype = weights[0].dtype
    return float(sum(cost.fn(_output(weights, biases, _column(x, dtype)), _column(y, dtype))
                     for x, y in zip(X, Y)))


def prepare(X):
    """The inputs in the form the other kernels take: the (m, n_in) matrix, one example
    per row (``X`` itself, or the whole of a ``cnet._checks.InputRows``)."""
    return X if isinstance(X, np.ndarray) else X.dense()
