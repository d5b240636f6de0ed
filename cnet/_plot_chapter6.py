"""The figures of the book's conv.py: plot_filters (a ConvPoolLayer's filters), plot_errors (misclassified digits)."""
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["plot_filters", "plot_errors"]


def new_figure(**options):
    """A Figure on the Agg canvas (as cnet.plot's; not imported from it, which imports this module)."""
    fig = Figure(**options)
    FigureCanvasAgg(fig)
    return fig


def plot_filters(net, layer, x, y):
    """A Figure of the filters of ``net.layers[layer]`` (a ConvPoolLayer), as conv.py
    draws them: each filter's weights on its first input map as a matshow, binary
    colour map, no ticks, in a grid of ``y`` rows and ``x`` columns (conv.py's
    ``plot_filters(nets[0], 0, 5, 4)`` for the first layer's 20)."""
    layers = net.layers
    if not 0 <= layer < len(layers) or layers[layer].kind != "conv_pool":
        raise ValueError("layer {}: not a ConvPoolLayer of the network (its layers: {})".format(
            layer, ", ".join(type(l).__name__ for l in layers)))
    filters = np.asarray(layers[layer].w.get_value(borrow=True))
    x, y = int(x), int(y)
    if x < 1 or y < 1 or x * y < len(filters):
        raise ValueError("a grid of {} x {} cannot hold the layer's {} filters".format(y, x, len(filters)))
    fig = new_figure(figsize=(1.2 * x, 1.2 * y))
    for j, f in enumerate(filters):
        # filter j in panel j + 1: the book's add_subplot(y, x, j) from j = 0 is refused by matplotlib 3
        ax = fig.add_subplot(y, x, j + 1)
        ax.matshow(f[0], cmap="binary")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_errors(error_locations, erroneous_predictions=None, data=None):
    """A Figure of the first 40 of the test images at ``error_locations`` in a 5 x 8
    grid, as conv.py draws them: each a matshow (binary colour map, no ticks), its
    true digit written at (24, 5) and, with ``erroneous_predictions``, the wrong
    answer at (24, 24).  ``data``: the test images and labels, a pair (x, y) of
    arrays or of network3's Shared (default: MNIST's test set, as
    ``network3.load_data_shared()`` gives it) -- ``network3.ensemble(nets, data)``'s
    return value is the pair of lists this takes."""
    if data is None:
        from cnet import network3
        data = network3.load_data_shared()[2]
    test_x, test_y = np.asarray(data[0]), np.asarray(data[1])
    error_locations = [int(j) for j in error_locations]
    bad = [j for j in error_locations if not 0 <= j < len(test_x)]
    if bad:
        raise ValueError("error location {} is outside the {} test images".format(bad[0], len(test_x)))
    if erroneous_predictions is not None and len(erroneous_predictions) < min(40, len(error_locations)):
        raise ValueError("{} erroneous predictions for {} error locations".format(
            len(erroneous_predictions), len(error_locations)))
    fig = new_figure(figsize=(8, 5.5))
    grid = fig.add_gridspec(5, 8)
    for j, i in enumerate(error_locations[:40]):
        ax = fig.add_subplot(grid[j // 8, j % 8])
        ax.matshow(test_x[i].reshape(28, -1), cmap="binary")
        ax.text(24, 5, str(test_y[i]))
        if erroneous_predictions is not None:
            ax.text(24, 24, str(erroneous_predictions[j]))
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
