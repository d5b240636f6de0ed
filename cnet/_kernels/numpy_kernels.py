"""The pure-NumPy kernels: the reference every compiled result is tested against.

Written for clarity in the book's per-example style: ``backprop`` is
``network.py``'s, and ``train`` sums its gradients over each mini-batch exactly
as ``update_mini_batch`` does.  Same interface as the compiled kernels
(``_interface.pxi``): ``weights[l]`` is (n_{l+1}, n_l), ``biases[l]`` is
(n_{l+1}, 1), both float64 or both float32 -- the arithmetic is done in their
dtype; ``X`` holds one example per row; ``Y`` one desired output per row,
float64.  ``cost`` is any class with static ``fn(a, y)`` and ``delta(z, a, y)``.

Chapter 3's options are keyword arguments, each defaulting to the book's
network (with which every result is what it was before they existed):

- ``activation``: the hidden layers' activation, "sigmoid", "tanh" or "relu";
- ``output``: the output layer's, "sigmoid" or "softmax" (the cost's
  ``output``, see ``cnet.functions.output_of``);
- ``regularization``: "L2" (w ← (1 − ηλ/n) w − …) or "L1" (w ← w − (ηλ/n) sgn(w) − …);
- ``mu`` and ``velocities``: momentum.  With ``mu`` > 0, ``velocities`` is a
  pair of lists ``(vw, vb)`` shaped like ``weights`` and ``biases`` (the
  velocities, updated in place): v ← μv − η∇C, w ← w + v, ∇C holding the
  regularisation's term.  With ``mu`` = 0 they are neither needed nor touched.

Every layer is dense (fully connected); another kind of layer would be named in
the same way as the activations are.
"""
import numpy as np

from cnet.functions import ACTIVATIONS, OUTPUTS

NAME = "numpy"


def supports(cost):
    """The NumPy kernels run any cost class."""
    return True


def _column(row, dtype):
    return np.asarray(row, dtype=dtype).reshape(-1, 1)


def _output(weights, biases, a, activation="sigmoid", output="sigmoid"):
    # a_{l+1} = f(w_l a_l + b_l), f the hidden activation for l < L−1 and the output's for l = L−1
    f, g = ACTIVATIONS[activation][0], OUTPUTS[output]
    for l, (b, w) in enumerate(zip(biases, weights)):
        a = (g if l == len(weights) - 1 else f)(np.dot(w, a) + b)
    return a


def feedforward(weights, biases, X, activation="sigmoid", output="sigmoid"):
    """The output activations a_L for each row of X: an (m, n_L) float64 array."""
    out = np.empty((X.shape[0], weights[-1].shape[0]), dtype=weights[-1].dtype)
    for k in range(X.shape[0]):
        out[k] = _output(weights, biases, _column(X[k], weights[0].dtype), activation, output)[:, 0]
    return out


def predict(weights, biases, X, activation="sigmoid", output="sigmoid"):
    """argmax of the output activations for each row of X (first maximum on ties)."""
    return np.argmax(feedforward(weights, biases, X, activation, output), axis=1)


def backprop(weights, biases, x, y, cost, activation="sigmoid", output="sigmoid"):
    """(nabla_b, nabla_w): the gradient of ``cost`` for the one example (x, y),
    as lists shaped like ``biases`` and ``weights``."""
    f, f_prime = ACTIVATIONS[activation]
    g = OUTPUTS[output]
    nabla_b = [np.zeros_like(b) for b in biases]
    nabla_w = [np.zeros_like(w) for w in weights]
    # feedforward, keeping every z and a
    a = _column(x, weights[0].dtype)
    activations = [a]
    zs = []
    for l, (b, w) in enumerate(zip(biases, weights)):
        z = np.dot(w, a) + b
        zs.append(z)
        a = (g if l == len(weights) - 1 else f)(z)
        activations.append(a)
    # output error: δ_L = cost.delta(z_L, a_L, y)
    delta = cost.delta(zs[-1], activations[-1], _column(y, weights[0].dtype))
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    # backwards: δ_l = (w_{l+1}ᵀ δ_{l+1}) ⊙ f'(z_l);  ∂C/∂b = δ,  ∂C/∂w = δ a_{l−1}ᵀ
    for l in range(2, len(weights) + 1):
        delta = np.dot(weights[-l + 1].transpose(), delta) * f_prime(zs[-l])
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
    return nabla_b, nabla_w


def train(weights, biases, X, Y, order, mini_batch_size, eta, lmbda, n, cost, num_threads=1,
          activation="sigmoid", output="sigmoid", regularization="L2", mu=0.0, velocities=None):
    """Run SGD over the mini-batches order[0:s], order[s:2s], … (s = mini_batch_size).

    With ∇ summed over the m examples of the mini-batch, each step is
      L2, μ = 0:  w ← (1 − ηλ/n) w − (η/m) ∇w            (the book's)
      L1, μ = 0:  w ← w − (ηλ/n) sgn(w) − (η/m) ∇w
      μ > 0:      v ← μ v − η (∇w/m + (λ/n) w), w ← w + v  ((λ/n) sgn(w) for L1)
    and b ← b − (η/m) ∇b (μ = 0) or v_b ← μ v_b − η ∇b/m, b ← b + v_b.
    Updates ``weights`` and ``biases`` (and the ``velocities``) in place.  Runs on
    one thread whatever ``num_threads`` is.
    """
    if mu and velocities is None:
        raise ValueError("momentum (mu > 0) needs velocities shaped like the weights and biases")
    for start in range(0, len(order), mini_batch_size):
        batch = order[start:start + mini_batch_size]
        nabla_b = [np.zeros_like(b) for b in biases]
        nabla_w = [np.zeros_like(w) for w in weights]
        for e in batch:
            delta_nabla_b, delta_nabla_w = backprop(weights, biases, X[e], Y[e], cost,
                                                    activation, output)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        m = len(batch)
        if mu == 0:
            if regularization == "L2":
                new_w = [(1 - eta * (lmbda / n)) * w - (eta / m) * nw for w, nw in zip(weights, nabla_w)]
            else:
                new_w = [w - eta * (lmbda / n) * np.sign(w) - (eta / m) * nw
                         for w, nw in zip(weights, nabla_w)]
            _assign(weights + biases, new_w + [b - (eta / m) * nb for b, nb in zip(biases, nabla_b)])
        else:
            vw, vb = velocities
            new_vw = [mu * v - eta * (nw / m + (lmbda / n) * (w if regularization == "L2" else np.sign(w)))
                      for w, v, nw in zip(weights, vw, nabla_w)]
            new_vb = [mu * v - eta * (nb / m) for v, nb in zip(vb, nabla_b)]
            _assign(weights + biases + list(vw) + list(vb),
                    [w + v for w, v in zip(weights, new_vw)] + [b + v for b, v in zip(biases, new_vb)]
                    + new_vw + new_vb)


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


def cost_and_predict(weights, biases, X, Y, cost, num_threads=1, activation="sigmoid",
                     output="sigmoid"):
    """``(cost_sum(...), predict(...))``; with ``Y`` None, the sum is 0.0.  Runs on one
    thread whatever ``num_threads`` is."""
    return (0.0 if Y is None else cost_sum(weights, biases, X, Y, cost, activation, output),
            predict(weights, biases, X, activation, output))


def cost_sum(weights, biases, X, Y, cost, activation="sigmoid", output="sigmoid"):
    """Σ over the rows of X of cost.fn(a_L, y): the unregularised total cost."""
    dtype = weights[0].dtype
    return float(sum(cost.fn(_output(weights, biases, _column(x, dtype), activation, output),
                             _column(y, dtype))
                     for x, y in zip(X, Y)))


def prepare(X):
    """The inputs in the form the other kernels take: the (m, n_in) matrix, one example
    per row (``X`` itself, or the whole of a ``cnet._checks.InputRows``)."""
    return X if isinstance(X, np.ndarray) else X.dense()
