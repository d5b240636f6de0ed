"""The book's figures, from a sweep's records or a saved network (matplotlib: ``pip install matplotlib``).

Every ``plot_*`` function draws on a matplotlib ``Axes`` it is given and
returns it, so the figures compose with the user's own; the ``*_figure``
functions build a whole ``Figure`` (matplotlib's object-oriented API, on the
Agg canvas: no window, no global state, nothing drawn at import), and
``save(fig, "fig.png")`` writes it as PNG or SVG.

- ``plot_epochs``: a monitor per epoch (accuracy in percent, or cost), one line
  per configuration, the median over its seeds; ``by="eta"`` labels the lines
  by the learning rate -- the book's multiple-η figure.
- ``plot_overfitting``: accuracy on the training images against the
  evaluation images, per epoch (the book's overfitting figure).
- ``plot_weights``: a network's first-layer weights, one 28×28 image per
  hidden neuron; ``plot_confusion``: its confusion matrix.
"""
import inspect
import json

import numpy as np

from cnet import _sweep_config

try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
except ImportError as exc:   # pragma: no cover - tested in a subprocess without matplotlib
    raise ImportError("cnet.plot needs matplotlib: pip install matplotlib "
                      "(or, in cnet's source tree, pip install '.[plot]')") from exc

SYMBOLS = {"eta": "η", "lmbda": "λ", "mini_batch_size": "mini-batch", "n_train": "training images"}
METRIC_LABELS = {"evaluation_accuracy": "accuracy on the {} images (%)",
                 "evaluation_cost": "cost on the {} images",
                 "training_accuracy": "accuracy on the training images (%)",
                 "training_cost": "cost on the training images"}


# ------------------------------------------------------------ records → lines

def _identity(config):
    return json.dumps(config, sort_keys=True)


def _value(key, value):
    if isinstance(value, list):
        return ",".join(map(str, value))
    if value is None and key == "n_train":
        return "all"                    # every training image
    return "{:g}".format(value) if isinstance(value, float) else str(value)


def _default(key):
    """The value a run has for ``key`` when its configuration leaves it out: the
    sweep's own default, or network2's (the sweep drops a value equal to it)."""
    if key in _sweep_config.DEFAULTS:
        return _sweep_config.DEFAULTS[key]
    init, sgd = _sweep_config.parameters()
    default = dict(init, **sgd).get(key, inspect.Parameter.empty)
    if default is inspect.Parameter.empty:
        return "?"
    try:
        return _sweep_config._plain(key, default)
    except ValueError:
        return getattr(default, "__name__", default)


def describe(config, keys):
    """``config``'s values of ``keys`` as a label: "η = 3, sizes = 784,30,10"; a key
    ``config`` leaves out shows its default ("λ = 0")."""
    return ", ".join(_item(config, k) for k in keys)


def _item(config, key):
    value = config[key] if key in config else _default(key)
    return "{} = {}".format(SYMBOLS.get(key, key), _value(key, value))


def varying(records, exclude=("seed",)):
    """The configuration keys whose values differ between ``records``, in first-seen order."""
    names, values = [], {}
    for r in records:
        for k, v in r["config"].items():
            if k not in exclude:
                if k not in names:
                    names.append(k)
                values.setdefault(k, set()).add(_identity(v))
    for k in names:   # a key missing from some records (its default) varies too
        if any(k not in r["config"] for r in records):
            values[k].add("missing")
    return [k for k in names if len(values[k]) > 1]


def series(records, metric):
    """One ``(config, epochs, values)`` per configuration in ``records`` (seeds pooled,
    first-seen order): ``config`` without its seed, ``epochs`` 0, 1, ..., and the
    median over seeds of ``metric`` per epoch -- accuracy in percent of the
    images it counts, cost as recorded (NaN where it was not finite) -- over
    the epochs every seed ran.  Runs that stopped with an ``error`` are left out."""
    if metric not in METRIC_LABELS:
        raise ValueError("metric must be one of {}, got {!r}".format(sorted(METRIC_LABELS), metric))
    groups = {}
    for r in records:
        if r.get("error"):              # diverged to NaN: nothing to draw
            continue
        config = {k: v for k, v in r["config"].items() if k != "seed"}
        groups.setdefault(_identity(config), (config, []))[1].append(r)
    out = []
    for config, rs in groups.values():
        rows = [_metric(r, metric) for r in rs]
        if any(len(row) == 0 for row in rows):
            raise ValueError("records of {} hold no {}{}".format(
                _identity(config), metric, "; run the sweep with monitor_training_accuracy / "
                "monitor_training_cost (--monitor-training)" if metric.startswith("training") else ""))
        n = min(len(row) for row in rows)
        values = np.median(np.array([row[:n] for row in rows], dtype=np.float64), axis=0)
        out.append((config, np.arange(n), values))
    return out


def _metric(record, metric):
    values = np.asarray(record.get(metric) or [], dtype=np.float64)
    if metric == "evaluation_accuracy":
        return 100.0 * values / record["n_evaluation"]
    if metric == "training_accuracy":
        return 100.0 * values / record["n_train"]
    return values


def _evaluated_on(records):
    return "/".join(sorted({r["config"].get("evaluate_on", "test") for r in records}))


# ------------------------------------------------------------ plots of a sweep

def plot_epochs(ax, records, metric="evaluation_accuracy", by=None, **line_options):
    """Draw ``metric`` per epoch on ``ax``, one line per configuration of ``records``
    (the median over its seeds), labelled with the value of ``by`` (default: the
    keys that vary).  Returns ``ax``."""
    keys = [by] if by else varying(records)
    for config, epochs, values in series(records, metric):
        ax.plot(epochs, values, label=describe(config, keys) or "all runs", **line_options)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(METRIC_LABELS[metric].format(_evaluated_on(records)))
    ax.grid(True, alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize="small")
    return ax


def plot_overfitting(ax, records, by=None):
    """Draw, for each configuration of ``records``, the accuracy per epoch on the
    training images (dashed) and on the evaluation images (solid, same colour):
    the book's overfitting figure.  Returns ``ax``."""
    keys = [by] if by else varying(records)
    training = series(records, "training_accuracy")
    for (config, epochs, values), (_, t_epochs, t_values) in zip(series(records, "evaluation_accuracy"),
                                                                 training):
        name = describe(config, keys)
        line, = ax.plot(epochs, values, label=(name + ": " if name else "") + "evaluation")
        ax.plot(t_epochs, t_values, linestyle="--", color=line.get_color(),
                label=(name + ": " if name else "") + "training")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def new_figure(**options):
    """A matplotlib ``Figure`` on the Agg canvas (no window, no pyplot state)."""
    fig = Figure(**options)
    FigureCanvasAgg(fig)
    return fig


def sweep_figure(records, metric="evaluation_accuracy", by="eta", columns=3):
    """A figure of ``records``: one panel per combination of the keys that vary
    other than ``by`` (e.g. one per network size), one line per value of ``by``
    in each.  ``metric="overfitting"`` draws ``plot_overfitting`` instead."""
    if not records:
        raise ValueError("no records to plot")
    keys = varying(records)
    if by not in keys:
        by = None
    panel_keys = [k for k in keys if k != by]
    panels = {}
    for r in records:
        panels.setdefault(_identity({k: r["config"].get(k) for k in panel_keys}), []).append(r)
    n = len(panels)
    cols = min(columns, n)
    rows = -(-n // cols)
    fig = new_figure(figsize=(4.2 * cols, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=metric.endswith("accuracy"))
    for ax, group in zip(axes.flat, panels.values()):
        if metric == "overfitting":
            plot_overfitting(ax, group, by=by)
        else:
            plot_epochs(ax, group, metric=metric, by=by)
        ax.set_title(describe(group[0]["config"], panel_keys), fontsize="medium")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if metric.endswith("accuracy"):        # one y scale, named once a row
        for ax in axes[:, 1:].flat:
            ax.set_ylabel("")
    shared = [k for k in records[0]["config"] if k not in keys and k != "seed"]
    seeds = sorted({r["config"]["seed"] for r in records})
    parts = [_item(records[0]["config"], k) + ", " for k in shared]
    if parts:
        parts[-1] = parts[-1][:-2] + "; "
    parts.append("median over seed{} {}".format("s" if len(seeds) > 1 else "", ", ".join(map(str, seeds))))
    _fitted_suptitle(fig, parts, fontsize="small")
    return fig


def _fitted_suptitle(fig, parts, **options):
    """Give ``fig`` the title ``"".join(parts)``, broken between parts onto as many
    lines as it takes to fit the figure's width."""
    title = fig.suptitle("", **options)
    renderer = fig.canvas.get_renderer()
    width = 0.95 * fig.bbox.width
    lines, line = [], ""
    for part in parts:
        title.set_text((line + part).rstrip())
        if line and title.get_window_extent(renderer).width > width:
            lines.append(line.rstrip())
            line = part
        else:
            line += part
    lines.append(line.rstrip())
    title.set_text("\n".join(lines))
    return title


# ------------------------------------------------------------ plots of a network

def plot_weights(axes, net, neurons=None):
    """Draw the first layer's weights into each of ``axes``: the weights into hidden
    neuron i as a 28×28 image (red positive, blue negative, one colour scale
    for all), for i in ``neurons`` (default 0, 1, ...).  Returns ``axes``."""
    W = np.asarray(net.weights[0], dtype=np.float64)
    if W.shape[1] != 784:
        raise ValueError("the first layer has {} inputs; 28x28 images need 784".format(W.shape[1]))
    axes = list(np.ravel(axes))
    neurons = list(range(min(len(axes), W.shape[0]))) if neurons is None else list(neurons)
    scale = float(np.max(np.abs(W[neurons]))) or 1.0
    for ax, i in zip(axes, neurons):
        ax.imshow(W[i].reshape(28, 28), cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(i), fontsize="x-small", pad=2)
    return axes


def confusion(net, data):
    """The confusion matrix of ``net`` on ``data`` (pairs ``(x, label)``): a 10×10
    integer array whose entry [i, j] counts the images of digit i classified j."""
    if not data:
        raise ValueError("data is empty; a confusion matrix needs examples")
    X = np.hstack([np.asarray(x, dtype=np.float64).reshape(-1, 1) for x, _ in data])
    labels = np.array([int(y) for _, y in data])
    predicted = np.argmax(net.feedforward(X), axis=0)
    k = net.sizes[-1]
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def plot_confusion(ax, matrix):
    """Draw the confusion matrix ``matrix`` (rows: true digit, columns: predicted) on
    ``ax`` with its counts written in.  Returns ``ax``."""
    matrix = np.asarray(matrix)
    ax.imshow(matrix, cmap="Blues")
    k = len(matrix)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true digit")
    high = matrix.max() / 2 if matrix.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize="x-small",
                    color="white" if matrix[i, j] > high else "black")
    total = int(matrix.sum())
    ax.set_title("{} / {} correct ({:.2f}%)".format(int(np.trace(matrix)), total,
                                                   100.0 * np.trace(matrix) / total if total else 0.0),
                 fontsize="medium")
    return ax


def network_figure(net, test_data, max_neurons=100):
    """A figure of a trained network: its first-layer weights as images (up to
    ``max_neurons`` hidden neurons) and its confusion matrix on ``test_data``."""
    hidden = min(net.sizes[1], max_neurons)
    cols = int(np.ceil(np.sqrt(hidden)))
    rows = -(-hidden // cols)
    fig = new_figure(figsize=(11, 5.2), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.1, 1])
    axes = left.subplots(rows, cols, squeeze=False)
    plot_weights(axes.flat, net, range(hidden))
    for ax in list(axes.flat)[hidden:]:
        ax.set_visible(False)
    left.suptitle("weights into the first {} hidden neurons".format(hidden), fontsize="medium")
    plot_confusion(right.subplots(), confusion(net, test_data))
    return fig


# ------------------------------------------------------------ files

def save(fig, path, dpi=100):
    """Write ``fig`` to ``path`` as PNG or SVG (chosen by the name's ending)."""
    kind = str(path).rsplit(".", 1)[-1].lower()
    if kind not in ("png", "svg"):
        raise ValueError("{}: the figure's file must end in .png or .svg".format(path))
    fig.savefig(path, format=kind, dpi=dpi)
    return path


def is_network(path):
    """Whether ``path`` holds a network saved as JSON (rather than a sweep's records)."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    return isinstance(data, dict) and "weights" in data and "sizes" in data

from cnet._plot_chapter6 import plot_errors, plot_filters  # noqa: E402,F401 (conv.py's figures)
