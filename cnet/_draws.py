"""The engine's random draws -- initial parameters and shuffles -- from the book's sources."""
import random

import numpy as np

from cnet import _kernels, layers

_fast_shuffle = []


def _fast_shuffle_ok():
    """True when the compiled shuffle reproduces ``random.shuffle`` here: the
    extension ``_kernels.common`` is built, ``random.shuffle`` is the standard
    Mersenne Twister's, and a trial on a private generator (made once) gives the
    same permutation."""
    shuffle = random.shuffle
    if _kernels.common is None or type(getattr(shuffle, "__self__", None)) is not random.Random:
        return False
    if not _fast_shuffle:
        trial = random.Random(20261122)
        state = trial.getstate()
        perm, after = _kernels.common.shuffle_permutation(1000, state)
        expected = list(range(1000))
        trial.shuffle(expected)
        _fast_shuffle.append(perm.tolist() == expected and after == trial.getstate())
    return _fast_shuffle[0]


class Draws:
    """The engine's draws: normals from ``np.random`` (or the seed's Generator,
    ``self._rng``) for the initial parameters, and the shuffles of ``random``
    (or that Generator) for the epochs."""

    def _randn(self, *shape, divisor=None):
        """Standard normals of ``shape`` from ``np.random`` (or the seed's Generator),
        divided by ``divisor`` if given -- in float64, as the book computes them --
        then held in the network's dtype."""
        if self._rng is None:
            draws = np.random.randn(*shape)
        else:
            draws = self._rng.standard_normal(shape)
        if divisor is not None:
            draws = draws / divisor
        return draws.astype(self.dtype, copy=False)

    def _initialize(self, initializer):
        """Set ``self.biases`` and ``self.weights`` to the layers' initial draws
        ("default" or "large", see ``cnet.layers``), in the book's order."""
        self.biases, self.weights = layers.initial_parameters(self._layer_list(), self._randn,
                                                              initializer)

    def _permutation(self, n):
        """The permutation that ``random.shuffle`` (or the seed's Generator) applies to
        a list of ``n`` items, as an array: shuffling ``data`` equals
        ``[data[i] for i in perm]``.  Draws exactly what the shuffle itself would."""
        if self._rng is not None:
            # Generator.shuffle of the list range(n) -- the same draws, in C (0.6 ms
            # for 50,000 rather than 4)
            return self._rng.permutation(n).astype(np.intp, copy=False)
        if _fast_shuffle_ok():
            perm, state = _kernels.common.shuffle_permutation(n, random.getstate())
            random.setstate(state)
            return perm
        perm = list(range(n))
        random.shuffle(perm)
        return np.asarray(perm, dtype=np.intp)

    def _shuffle(self, data):
        """Shuffle the list ``data`` in place as ``random.shuffle`` (or the seed's
        Generator) would, all at once; return the permutation applied (``data``
        is now ``[old_data[i] for i in perm]``)."""
        perm = self._permutation(len(data))
        if _kernels.common is not None and type(data) is list:
            _kernels.common.permute_list(data, perm)    # moves the list's slots, in C
        else:
            data[:] = [data[i] for i in perm.tolist()]
        return perm
