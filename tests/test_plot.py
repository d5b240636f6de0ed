"""cnet.plot and ``python -m cnet plot``: the plotted data, read back from the figure's
line and image objects, are the records' (or the network's) numbers."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from cnet import mnist_loader, network2, plot, sweep  # noqa: E402
from test_datasets import fake_mnist, write_fake_idx  # noqa: E402
from test_sweep import env  # noqa: E402


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mnist")
    write_fake_idx(str(d), fake_mnist(n_train=10300, n_test=150), gz=False)
    return str(d)


@pytest.fixture(scope="module")
def results(data_dir, tmp_path_factory):
    """A results file: 2 sizes × 3 η × 2 seeds, 4 epochs, training accuracy monitored."""
    out = str(tmp_path_factory.mktemp("runs") / "runs.jsonl")
    sweep.run(dict(sizes=[[784, 8, 10], [784, 12, 10]], eta=[0.1, 1.0, 10.0], seeds=[0, 1], epochs=4,
                   monitor_training_accuracy=True, monitor_training_cost=True),
              out=out, n_jobs=1, data_dir=data_dir)
    return out


def percent_median(records, metric, n_key):
    return np.median([100.0 * np.array(r[metric]) / r[n_key] for r in records], axis=0)


def lines_of(ax):
    return {line.get_label(): (list(line.get_xdata()), np.asarray(line.get_ydata())) for line in ax.get_lines()}


def test_epochs_lines_are_the_records(results):
    records = sweep.read(results)
    fig = plot.new_figure()
    ax = fig.subplots()
    small = [r for r in records if r["config"]["sizes"] == [784, 8, 10]]
    assert plot.plot_epochs(ax, small, by="eta") is ax
    lines = lines_of(ax)
    assert sorted(lines) == ["η = 0.1", "η = 1", "η = 10"]
    for eta in (0.1, 1.0, 10.0):
        rs = [r for r in small if r["config"]["eta"] == eta]
        assert len(rs) == 2
        x, y = lines["η = {:g}".format(eta)]
        assert x == [0, 1, 2, 3]
        np.testing.assert_array_equal(y, percent_median(rs, "evaluation_accuracy", "n_evaluation"))
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "accuracy on the test images (%)"
    # cost, lines labelled by what varies
    ax2 = plot.plot_epochs(fig.add_subplot(2, 1, 2), records, metric="evaluation_cost")
    assert len(ax2.get_lines()) == 6
    x, y = lines_of(ax2)["sizes = 784,12,10, η = 10"]
    rs = [r for r in records if r["config"]["sizes"] == [784, 12, 10] and r["config"]["eta"] == 10.0]
    np.testing.assert_array_equal(y, np.median([[np.nan if c is None else c for c in r["evaluation_cost"]]
                                                for r in rs], axis=0))


def test_overfitting_lines(results):
    records = [r for r in sweep.read(results) if r["config"]["eta"] == 1.0]
    ax = plot.plot_overfitting(plot.new_figure().subplots(), records, by="sizes")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert sorted(lines) == ["sizes = 784,12,10: evaluation", "sizes = 784,12,10: training",
                             "sizes = 784,8,10: evaluation", "sizes = 784,8,10: training"]
    rs = [r for r in records if r["config"]["sizes"] == [784, 8, 10]]
    training, evaluation = lines["sizes = 784,8,10: training"], lines["sizes = 784,8,10: evaluation"]
    np.testing.assert_array_equal(training.get_ydata(), percent_median(rs, "training_accuracy", "n_train"))
    np.testing.assert_array_equal(evaluation.get_ydata(),
                                  percent_median(rs, "evaluation_accuracy", "n_evaluation"))
    assert training.get_linestyle() == "--" and training.get_color() == evaluation.get_color()


def test_missing_monitor_is_a_clear_error(data_dir):
    records = sweep.run({"sizes": [784, 8, 10], "epochs": 1}, n_jobs=1, data_dir=data_dir)
    with pytest.raises(ValueError, match="hold no training_accuracy; run the sweep with monitor_training"):
        plot.plot_overfitting(plot.new_figure().subplots(), records)


def test_sweep_figure_has_a_panel_per_size_and_a_line_per_eta(results, tmp_path):
    records = sweep.read(results)
    fig = plot.sweep_figure(records, by="eta")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["sizes = 784,8,10", "sizes = 784,12,10"]
    for ax, sizes in zip(axes, ([784, 8, 10], [784, 12, 10])):
        lines = lines_of(ax)
        assert sorted(lines) == ["η = 0.1", "η = 1", "η = 10"]
        rs = [r for r in records if r["config"]["sizes"] == sizes and r["config"]["eta"] == 10.0]
        np.testing.assert_array_equal(lines["η = 10"][1], percent_median(rs, "evaluation_accuracy", "n_evaluation"))
    for name in ("fig.png", "fig.svg"):
        path = tmp_path / name
        plot.save(fig, str(path))
        head = path.read_bytes()[:400]
        assert head.startswith(b"\x89PNG") if name.endswith("png") else b"<svg" in head
    with pytest.raises(ValueError, match="must end in .png or .svg"):
        plot.save(fig, str(tmp_path / "fig.jpeg"))


def test_network_weights_and_confusion(data_dir):
    _, _, test = mnist_loader.load_data_wrapper(data_dir)
    net = network2.Network([784, 6, 10], seed=3)
    fig = plot.new_figure()
    axes = fig.subplots(2, 3)
    assert plot.plot_weights(axes.flat, net) == list(axes.flat)
    for i, ax in enumerate(axes.flat):
        np.testing.assert_array_equal(ax.images[0].get_array(), net.weights[0][i].reshape(28, 28))
    matrix = plot.confusion(net, test)
    assert matrix.shape == (10, 10) and matrix.sum() == len(test)
    assert np.trace(matrix) == net.accuracy(test)
    for digit in range(10):
        assert matrix[digit].sum() == sum(1 for _, y in test if y == digit)
    ax = plot.plot_confusion(plot.new_figure().subplots(), matrix)
    np.testing.assert_array_equal(ax.images[0].get_array(), matrix)
    assert ax.texts[13].get_text() == str(matrix[1, 3])
    fig = plot.network_figure(net, test)
    assert sum(1 for ax in fig.axes if ax.images and ax.images[0].get_array().shape == (28, 28)) == 6


def cli(*args):
    return subprocess.run([sys.executable, "-m", "cnet"] + list(args), capture_output=True, text=True,
                          env=env(), timeout=300)


def test_command_line(results, data_dir, tmp_path):
    out = tmp_path / "multiple_eta.svg"
    r = cli("plot", results, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "wrote {}\n".format(out) and b"<svg" in out.read_bytes()[:400]
    r = cli("plot", results, "--metric", "overfitting", "--by", "sizes", "--out", str(tmp_path / "o.png"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.png").read_bytes().startswith(b"\x89PNG")
    saved = tmp_path / "net.json"
    network2.Network([784, 5, 10], seed=0).save(str(saved))
    r = cli("plot", str(saved), "--data-dir", data_dir)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "net.png").read_bytes().startswith(b"\x89PNG")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("a,b\n1,2\n")
    r = cli("plot", str(bad))
    assert r.returncode == 1 and "not a cnet sweep results file" in r.stderr and "Traceback" not in r.stderr


NO_MATPLOTLIB = """
import sys
sys.modules["matplotlib"] = None              # as if it were not installed
from cnet.__main__ import main
from cnet import sweep                        # the rest of cnet does not need it
assert sweep.grid(eta=[1, 2])
sys.exit(main(sys.argv[1:]))
"""


def test_without_matplotlib_the_command_says_how_to_install_it(results):
    # from the results' directory: `python -c` puts the working directory first on the
    # path, and a source tree there would shadow the installed cnet
    r = subprocess.run([sys.executable, "-c", NO_MATPLOTLIB, "plot", results], capture_output=True,
                       text=True, env=env(), timeout=120, cwd=os.path.dirname(results))
    assert r.returncode == 1
    assert r.stderr == "cnet: error: cnet.plot needs matplotlib: pip install matplotlib " \
                       "(or, in cnet's source tree, pip install '.[plot]')\n"


def test_importing_draws_nothing():
    code = ("import sys, cnet.plot; print(json.dumps(sorted(m for m in sys.modules "
            "if m in ('matplotlib.pyplot', 'tkinter', 'PyQt5', 'matplotlib.backends.backend_tkagg'))))")
    r = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                       env=env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


def test_a_key_left_at_its_default_shows_the_default(data_dir):
    # the sweep drops lmbda=0.0 (network2's default) from the configuration; its
    # label is that value, not "all" (which is only n_train=None: every image)
    records = sweep.run(dict(sizes=[784, 5, 10], lmbda=[0.0, 5.0], epochs=1, n_train=200),
                        n_jobs=1, data_dir=data_dir)
    assert "lmbda" not in records[0]["config"] and records[1]["config"]["lmbda"] == 5.0
    fig = plot.sweep_figure(records, by="lmbda")
    assert sorted(lines_of(fig.axes[0])) == ["λ = 0", "λ = 5"]
    by_eta = plot.sweep_figure(records, by="eta")      # λ names the panels instead
    assert [ax.get_title() for ax in by_eta.axes if ax.get_visible()] == ["λ = 0", "λ = 5"]
    assert plot.describe({}, ["lmbda", "mu", "early_stopping_n", "dtype", "activation"]) == \
        "λ = 0, mu = 0, early_stopping_n = 0, dtype = float64, activation = sigmoid"
    assert plot.describe({"n_train": None}, ["n_train"]) == "training images = all"


def test_the_title_fits_the_figure(results, tmp_path):
    # two panels: the shared settings make a title wider than the figure on one line
    records = [r for r in sweep.read(results) if r["config"]["eta"] == 1.0]
    one = plot.sweep_figure(records, metric="overfitting", by="sizes")
    two = plot.sweep_figure(sweep.read(results), by="eta")
    assert [len([ax for ax in f.axes if ax.get_visible()]) for f in (one, two)] == [1, 2]
    for fig in (one, two):
        plot.save(fig, str(tmp_path / "fig.png"))     # lays the figure out as written
        title, = [t for t in fig.texts if t.get_text() == fig.get_suptitle()]
        for text in ("epochs = 4", "mini-batch = 10", "median over seeds 0, 1"):
            assert text in title.get_text()
        box, page = title.get_window_extent(fig.canvas.get_renderer()), fig.bbox
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, \
            (box, page, title.get_text())
