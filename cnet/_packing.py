"""Checking and packing the caller's examples for the kernels, and the packed memory kept between calls."""
import numpy as np

from cnet import _checks, _kernels


def _rows_of(value):
    """The number of rows of ``value`` when it is a column array (r, 1), else None."""
    shape = getattr(value, "shape", None)
    if type(shape) is tuple and len(shape) == 2 and shape[1] == 1:
        return shape[0]
    return None


def _pair_part(data, k, part):
    """``data[k][part]`` when ``data[k]`` is a pair, else None."""
    item = data[k]
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return item[part]
    return None


def check_widths(name, data, sizes, labels):
    """Raise ValueError naming the network's ``sizes`` when the examples of ``data``
    are of another width than the network's input (or output) layer: the first
    and the last example's x (or desired output y) are columns of the same
    height, not the layer's.  A single example out of line is left to the
    per-example checks, which name it."""
    if not data:
        return
    ends = ((0, 0), (1, len(sizes) - 1)) if not labels else ((0, 0),)
    for part, layer in ends:
        first, last = _pair_part(data, 0, part), _pair_part(data, len(data) - 1, part)
        rows = _rows_of(first)
        if rows is not None and rows != sizes[layer] and _rows_of(last) == rows:
            fitting = list(sizes)
            fitting[layer] = rows
            raise ValueError(
                "the network's sizes[{index}] is {width}, but {name}'s {what} have {rows} rows "
                "({name}[0][{part}] has shape {shape}): for these examples build the network "
                "with sizes {fitting}".format(
                    index=layer if layer == 0 else -1, width=sizes[layer], name=name,
                    what="inputs" if part == 0 else "desired outputs", rows=rows, part=part,
                    shape=first.shape, fitting=fitting))


class Packing:
    """The engine's inputs: every list of examples is checked once and packed into
    the form its kernels take; the training inputs' memory and their order are
    kept from one call to the next, for the next call to pack into."""

    def _compiled_pack(self):
        """The compiled kernels' one-pass check-and-pack of a list, or None where they
        are not this network's kernels (a cost they do not compile, the NumPy backend)."""
        pack = getattr(self._kernels, "pack", None)
        return pack if pack is not None and self._kernels.supports(self._kernel_cost()) else None

    def _examples(self, name, data, labels, once=False, refill=None):
        """``(inputs, T)`` for ``data``: the checked inputs prepared for the kernels,
        and the desired outputs (labels=False) or integer labels (labels=True).
        ``once``: the inputs are for one scan of labels, right away -- the compiled
        kernels then leave them in the caller's arrays (see their ``pack``).
        ``refill``: inputs an earlier pack made, for the compiled kernels to pack into."""
        n_in, n_out = self.sizes[0], self.sizes[-1]
        check_widths(name, data, self.sizes, labels)
        pack = self._compiled_pack()
        if pack is not None:
            return pack(name, data, n_in, n_out, labels, columns=once, refill=refill)
        X, T = _checks.examples(name, data, n_in, n_out, labels)
        return self._kernels_for_cost().prepare(X), T

    def _training_examples(self, data, by_address):
        """``(inputs, Y, order)`` for the training list ``data``: as ``_examples``,
        and the row of the inputs and of Y that holds each example of ``data``
        (``order[k]``: ``data[k]``'s).  With ``by_address``, the compiled kernels
        may pack the examples in the order of their inputs' memory (see their
        ``pack``), the fastest for a list that an earlier epoch shuffled.  They pack
        into the memory of the inputs the last call packed (``_keep_inputs``), if
        this network's kernels made them."""
        pack = self._compiled_pack()
        kept = self.__dict__.pop("_packed_inputs", None)
        refill = kept[1] if kept is not None and kept[0] is self._kernels else None
        if by_address and pack is not None:
            n_in, n_out = self.sizes[0], self.sizes[-1]
            check_widths("training_data", data, self.sizes, False)
            X, Y, rows = pack("training_data", data, n_in, n_out, False, True,
                              self._visit_hint(data), refill=refill)
        else:
            (X, Y), rows = self._examples("training_data", data, labels=False, refill=refill), None
        return X, Y, np.arange(len(data), dtype=np.intp) if rows is None else rows

    def _visit_hint(self, data):
        """The order in which to pack the list ``data`` if it holds the very objects
        that the last SGD call left in it: that call's rows of X, inverted -- its
        examples in the order of their memory, found without a pass over the list
        (see ``pack``).  None otherwise."""
        kept = self.__dict__.get("_packed_rows")
        if kept is None or _kernels.common is None or type(data) is not list or len(data) != len(kept[1]):
            return None
        items, rows = kept
        if not np.array_equal(_kernels.common.list_items(data), items):
            return None
        visit = np.empty(len(rows), dtype=np.intp)
        visit[rows] = np.arange(len(rows), dtype=np.intp)
        return visit

    def _keep_inputs(self, X):
        """Keep the training inputs that the compiled kernels packed, ``X``, for the
        next call to pack into (see their ``pack``'s ``refill``): fresh memory costs
        the system a page at a time, and on a VM's first calls more than packing.
        The network holds them (about 90 MB for MNIST's 50,000 images in float64)
        until the next call, or until it is gone; not pickled."""
        inputs = getattr(self._kernels, "Inputs", None)
        if inputs is not None and isinstance(X, inputs):
            self._packed_inputs = (self._kernels, X)

    def _keep_packed_rows(self, data, rows):
        """Remember that ``data``, as it is now, had its example k packed in row
        ``rows[k]``: the next call's ``_visit_hint``.  (Addresses only: the list's
        objects are not kept alive by it.)"""
        if _kernels.common is not None and type(data) is list:
            self._packed_rows = (_kernels.common.list_items(data), rows)

    def _prediction_rows(self, name, X):
        """``(rows, layout)``: the examples of ``X``, checked, one per row, float32 or
        float64; and how ``X`` held them: "one" (1-D), "columns" or "rows"."""
        n_in = self.sizes[0]
        expected = "({0},) for one input, ({0}, m) with one example per column, or (m, {0}) " \
                   "with one per row".format(n_in)
        try:
            X = np.asarray(X)
        except (ValueError, TypeError):
            raise ValueError("{}: X is ragged or not an array; expected {}".format(name, expected)) from None
        if X.ndim == 1 and X.shape[0] == n_in:
            layout = "one"
        elif X.ndim == 2 and X.shape == (n_in, n_in):
            raise ValueError("{}: X has shape {}; with both dimensions equal to the input width {} it "
                             "is ambiguous whether its examples are rows or columns: pass them in "
                             "batches of another size".format(name, X.shape, n_in))
        elif X.ndim == 2 and n_in in X.shape:
            layout = "columns" if X.shape[0] == n_in else "rows"
        else:
            raise ValueError("{}: X has shape {}; expected {}".format(name, X.shape, expected))
        X = _checks.finite("{}: X".format(name), _checks.array("{}: X".format(name), X, X.shape))
        rows = X.reshape(1, n_in) if layout == "one" else X.T if layout == "columns" else X
        return np.ascontiguousarray(rows, dtype=np.float32 if X.dtype == np.float32 else np.float64), layout
