"""The pure-NumPy kernels: the reference every compiled result is tested against.

Written for clarity in the book's per-example style: ``backprop`` is
``network.py``'s, and ``train`` sums its gradients over each mini-batch exactly
as ``update_mini_batch`` does.  The interface is ``interface.Kernels``, the same
as the compiled kernels': ``spec`` (a tuple of ``spec.LayerSpec``) says what each
layer is, and every function checks the weights and biases against it once
(``spec.check``), then runs unchecked.  The arithmetic is done in the weights'
dtype.

Each layer kind is a pair of functions in ``KINDS`` (forward, backward); the
functions walk the spec and call its layers' pairs.  ``update`` is the update rule
every layer's parameters go through (plain, L2, L1, momentum).
"""
import numpy as np

# chapter 6's layers: numpy_conv's functions, part of this implementation's interface
from cnet._kernels.numpy_conv import (conv_backward, conv_forward, dropout_keep, matmul,  # noqa: F401
                                      moved, pool_backward, pool_forward)
from cnet._kernels.spec import check
from cnet.functions import ACTIVATIONS, OUTPUTS

NAME = "numpy"


def supports(cost):
    """The NumPy kernels run any cost class."""
    return True


def _column(row, dtype):
    return np.asarray(row, dtype=dtype).reshape(-1, 1)


# ------------------------------------------------------------- layer kinds

def dense_forward(w, b, a):
    """A dense layer's weighted inputs z = w a + b (a: one example per column)."""
    return np.dot(w, a) + b


def dense_backward(w, a, delta, back):
    """``(∂C/∂b, ∂C/∂w, ∂C/∂a)`` of a dense layer given its input a and δ = ∂C/∂z:
    δ, δ aᵀ, and wᵀ δ (None unless ``back``: the first layer passes nothing back)."""
    return delta, np.dot(delta, a.transpose()), np.dot(w.transpose(), delta) if back else None


# kind → (forward, backward), as dense_forward and dense_backward
KINDS = {"dense": (dense_forward, dense_backward)}


def _activation(spec, l):
    """Layer l's activation function f (its outputs are f(z)): the output layer's from OUTPUTS."""
    return OUTPUTS[spec[l].activation] if l == len(spec) - 1 else ACTIVATIONS[spec[l].activation][0]


def _output(weights, biases, a, *, spec):
    # a_{l+1} = f_l(z_l), z_l the forward of layer l (spec[l].kind) on a_l; unchecked
    for l, layer in enumerate(spec):
        a = _activation(spec, l)(KINDS[layer.kind][0](weights[l], biases[l], a))
    return a


def _feedforward(weights, biases, X, spec):
    out = np.empty((X.shape[0], weights[-1].shape[0]), dtype=weights[-1].dtype)
    for k in range(X.shape[0]):
        out[k] = _output(weights, biases, _column(X[k], weights[0].dtype), spec=spec)[:, 0]
    return out


def feedforward(weights, biases, X, *, spec):
    """The output activations a_L for each row of X: an (m, n_L) array."""
    check(spec, weights, biases)
    return _feedforward(weights, biases, X, spec)


def predict(weights, biases, X, *, spec):
    """argmax of the output activations for each row of X (first maximum on ties)."""
    check(spec, weights, biases)
    return np.argmax(_feedforward(weights, biases, X, spec), axis=1)


def _backprop(weights, biases, x, y, cost, spec):
    # backprop, unchecked
    dtype = weights[0].dtype
    # feedforward, keeping every z and a
    a = _column(x, dtype)
    activations = [a]
    zs = []
    for l, layer in enumerate(spec):
        z = KINDS[layer.kind][0](weights[l], biases[l], a)
        zs.append(z)
        a = _activation(spec, l)(z)
        activations.append(a)
    # output error: δ_L = cost.delta(z_L, a_L, y)
    delta = cost.delta(zs[-1], activations[-1], _column(y, dtype))
    nabla_b = [None] * len(spec)
    nabla_w = [None] * len(spec)
    # backwards: layer l's gradient from δ_l = ∂C/∂z_l, then δ_{l−1} = (∂C/∂a_{l−1}) ⊙ f'(z_{l−1})
    for l in range(len(spec) - 1, -1, -1):
        nabla_b[l], nabla_w[l], back = KINDS[spec[l].kind][1](weights[l], activations[l], delta, l > 0)
        if l > 0:
            delta = back * ACTIVATIONS[spec[l - 1].activation][1](zs[l - 1])
    return nabla_b, nabla_w


def backprop(weights, biases, x, y, cost, *, spec):
    """(nabla_b, nabla_w): the gradient of ``cost`` for the one example (x, y),
    as lists shaped like ``biases`` and ``weights``."""
    check(spec, weights, biases)
    return _backprop(weights, biases, x, y, cost, spec)


def update(param, gradient, m, eta, lmbda, n, *, regularization="L2", mu=0.0, velocity=None,
           penalized=True):
    """The update rule of every layer's parameters: one SGD step of the array ``param``
    given ``gradient``, its ∇ summed over the m examples of the mini-batch.  Returns the
    new ``(param, velocity)`` as new arrays (velocity None when ``mu`` is 0):
      μ = 0, L2:  p ← (1 − ηλ/n) p − (η/m) ∇        (the book's)
      μ = 0, L1:  p ← p − (ηλ/n) sgn(p) − (η/m) ∇
      μ > 0:      v ← μ v − η (∇/m + (λ/n) p), p ← p + v   ((λ/n) sgn(p) for L1)
    and, for a parameter with no penalty (``penalized`` False: biases),
    p ← p − (η/m) ∇, or v ← μ v − η ∇/m, p ← p + v."""
    if mu == 0:
        if not penalized:
            return param - (eta / m) * gradient, None
        if regularization == "L2":
            return (1 - eta * (lmbda / n)) * param - (eta / m) * gradient, None
        return param - eta * (lmbda / n) * np.sign(param) - (eta / m) * gradient, None
    if not penalized:
        velocity = mu * velocity - eta * (gradient / m)
    else:
        penalty = param if regularization == "L2" else np.sign(param)
        velocity = mu * velocity - eta * (gradient / m + (lmbda / n) * penalty)
    return param + velocity, velocity


def train(weights, biases, X, Y, order, mini_batch_size, eta, lmbda, n, cost, num_threads=1, *,
          spec, regularization="L2", mu=0.0, velocities=None):
    """Run SGD over the mini-batches order[0:s], order[s:2s], … (s = mini_batch_size):
    each step sums the gradients of its m examples and moves every parameter by
    ``update`` (L2 or L1 ``regularization`` of the weights, momentum ``mu`` > 0 with
    ``velocities`` = (vw, vb) shaped like the weights and biases).  Updates
    ``weights`` and ``biases`` (and the ``velocities``) in place.  Runs on one thread
    whatever ``num_threads`` is.
    """
    check(spec, weights, biases)
    if mu and velocities is None:
        raise ValueError("momentum (mu > 0) needs velocities shaped like the weights and biases")
    vw, vb = velocities if mu else ([None] * len(spec), [None] * len(spec))
    rule = dict(regularization=regularization, mu=mu)
    for start in range(0, len(order), mini_batch_size):
        batch = order[start:start + mini_batch_size]
        nabla_b = [np.zeros_like(b) for b in biases]
        nabla_w = [np.zeros_like(w) for w in weights]
        for e in batch:
            delta_nabla_b, delta_nabla_w = _backprop(weights, biases, X[e], Y[e], cost, spec)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        m = len(batch)
        # each layer's weights (with the penalty) and biases (without), through update
        arrays, values = [], []
        for l in range(len(spec)):
            for param, gradient, velocity, penalized in ((weights[l], nabla_w[l], vw[l], True),
                                                         (biases[l], nabla_b[l], vb[l], False)):
                new, new_velocity = update(param, gradient, m, eta, lmbda, n, velocity=velocity,
                                           penalized=penalized, **rule)
                arrays.append(param)
                values.append(new)
                if mu:
                    arrays.append(velocity)
                    values.append(new_velocity)
        _assign(arrays, values)


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


def _cost_sum(weights, biases, X, Y, cost, spec):
    dtype = weights[0].dtype
    return float(sum(cost.fn(_output(weights, biases, _column(x, dtype), spec=spec), _column(y, dtype))
                     for x, y in zip(X, Y)))


def cost_and_predict(weights, biases, X, Y, cost, num_threads=1, *, spec):
    """``(cost_sum(...), predict(...))``; with ``Y`` None, the sum is 0.0.  Runs on one
    thread whatever ``num_threads`` is."""
    check(spec, weights, biases)
    return (0.0 if Y is None else _cost_sum(weights, biases, X, Y, cost, spec),
            np.argmax(_feedforward(weights, biases, X, spec), axis=1))


def cost_sum(weights, biases, X, Y, cost, *, spec):
    """Σ over the rows of X of cost.fn(a_L, y): the unregularised total cost."""
    check(spec, weights, biases)
    return _cost_sum(weights, biases, X, Y, cost, spec)


def prepare(X):
    """The inputs in the form the other kernels take: the (m, n_in) matrix, one example
    per row (``X`` itself, or the whole of a ``cnet._checks.InputRows``)."""
    return X if isinstance(X, np.ndarray) else X.dense()
