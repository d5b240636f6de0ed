"""cnet chapter6, expand-mnist and predict on network3 files: real runs, small, through the command line."""
import io
import os
import re
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout

import numpy as np
import pytest

from cnet import chapter6, datasets, network3
from test_datasets import fake_mnist, write_fake_pickle

_CACHE = tempfile.TemporaryDirectory(prefix="cnet-cache-")    # empty: removed when the tests end
ROW = re.compile(r"\s*(\d+)\s+(\d+)\s+(\d+\.\d\d)%\s+(\d+\.\d\d)%\s+(\d+\.\d\d)$")


def run(*args, env=None):
    """``python -m cnet ARGS`` from outside the source tree, without $CNET_DATA_DIR
    and with a cache of its own (unless ``env`` says otherwise)."""
    full_env = dict(os.environ)
    full_env.pop("CNET_DATA_DIR", None)
    full_env["XDG_CACHE_HOME"] = _CACHE.name
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "cnet"] + list(args), capture_output=True, text=True,
                          env=full_env, timeout=600, cwd=tempfile.gettempdir())


def table_rows(stdout):
    """The closing table's rows: (run, seed, validation %, test %, seconds)."""
    rows = []
    for line in stdout.splitlines():
        m = ROW.fullmatch(line)
        if m:
            rows.append((int(m[1]), int(m[2]), float(m[3]), float(m[4]), float(m[5])))
    return rows


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    """A small MNIST: 40 training, 30 validation and 20 test images, and its expanded file."""
    d = tmp_path_factory.mktemp("fake-mnist")
    write_fake_pickle(str(d / "mnist.pkl.gz"), fake_mnist(n_train=70, n_test=20, seed=1), 40)
    r = run("expand-mnist", "--data-dir", str(d), "--out", str(d))
    assert r.returncode == 0, r.stderr
    return d


# ------------------------------------------------------------ the book's runs

def test_a_small_real_run_prints_the_books_lines_and_a_table(mnist_dir, tmp_path):
    r = run("chapter6", "basic_conv", "--runs", "1", "--epochs", "1", "--limit", "200", "--data-dir", mnist_dir,
            "--save", str(tmp_path) + os.sep)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("cnet: basic_conv (1 run): ConvPool(20 5x5 on 1x28x28, pool 2x2, sigmoid)")
    assert "200 training images, 1 epochs, mini-batch 10, eta 0.1, lambda 0, float32" in lines[0]
    assert lines[1:3] == ["Conv + FC architecture", "Training mini-batch number 0"]
    assert re.fullmatch(r"Epoch 0: validation accuracy \d+\.\d\d%", lines[3])
    assert lines[4] == "This is the best validation accuracy to date."
    assert re.fullmatch(r"The corresponding test accuracy is \d+\.\d\d%", lines[5])
    assert "Finished training network." in lines
    best = next(line for line in lines if line.startswith("Best validation accuracy of "))
    assert re.fullmatch(r"Best validation accuracy of \d+\.\d\d% obtained at iteration 19", best)
    corresponding = next(line for line in lines if line.startswith("Corresponding test accuracy of "))
    [(j, seed, validation, test, seconds)] = table_rows(r.stdout)
    assert (j, seed) == (0, 0) and 0 < seconds < 600
    assert best.startswith("Best validation accuracy of {:.2f}%".format(validation))
    assert corresponding == "Corresponding test accuracy of {:.2f}%".format(test)
    saved = tmp_path / "basic_conv-0.json"
    assert "saved to {}".format(saved) in lines
    net = network3.load(str(saved))
    assert [layer.kind for layer in net.layers] == ["conv_pool", "full", "softmax"]


def test_runs_take_seeds_seed_plus_j_and_repeat():
    x, y = fake_mnist(n_train=60, n_test=20, seed=2)[:2]
    x = x.reshape(60, 784).astype(np.float32) / 256
    data = [(network3.Shared(x), network3.Shared(y.astype(np.int32)))] * 3
    outs = []
    for _ in range(2):
        with redirect_stdout(io.StringIO()) as out:
            results, nets, vote = chapter6.run("shallow", data, runs=2, epochs=2, seed=7)
        outs.append((results, out.getvalue()))
    (first, printed), (second, _) = outs
    assert [r.seed for r in first] == [7, 8] and vote is None
    assert [r[:4] for r in first] == [r[:4] for r in second]
    assert printed.count("A shallow net with 100 hidden neurons\n") == 2
    assert printed.count("Finished training network.\n") == 2
    assert not np.array_equal(nets[0].layers[0].w.get_value(), nets[1].layers[0].w.get_value())


def test_the_seed_gives_the_books_initial_parameters(monkeypatch):
    built = []
    original = chapter6.build
    monkeypatch.setattr(chapter6, "build", lambda specs: built.append(original(specs)) or built[-1])
    x = np.zeros((20, 784), np.float32)
    data = [(network3.Shared(x), network3.Shared(np.zeros(20, np.int32)))] * 3
    with redirect_stdout(io.StringIO()):
        chapter6.run("omit_FC", data, runs=2, epochs=1, seed=3)
    for j, layers in enumerate(built):
        np.random.seed(3 + j)
        book = original(chapter6.layer_specs("omit_FC"))
        # zero images move the softmax's bias only; the ConvPool's initial draws stand
        np.testing.assert_array_equal(layers[0].w.get_value(), book[0].w.get_value())


def test_list_names_each_experiment_with_its_layers_and_settings():
    r = run("chapter6", "--list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[::3]] == list(chapter6.EXPERIMENTS)
    text = r.stdout
    assert ("dbl_conv_relu: the same with ReLU, L2-regularised\n    eta 0.03, lambda 0.1, 60 epochs, "
            "mini-batch 10, 3 runs; 50,000 training images\n    ConvPool(20 5x5 on 1x28x28, pool 2x2, ReLU) -> "
            "ConvPool(40 5x5 on 20x12x12, pool 2x2, ReLU) -> FC(640->100, ReLU) -> Softmax(100->10)\n") in text
    assert "eta 0.03, lambda 0, 40 epochs, mini-batch 10, 5 runs; the expanded 250,000 training images" in text
    assert "FC(640->1000, ReLU, dropout 0.5) -> FC(1000->1000, ReLU, dropout 0.5) -> " \
           "Softmax(1000->10, dropout 0.5)" in text
    assert "shallow: one hidden layer of 100 sigmoid neurons\n    eta 0.1, lambda 0, 60 epochs" in text


# ------------------------------------------------------------ expanded data

def test_expand_mnist_writes_the_expanded_file(fake_dir):
    training, validation, test = datasets.read_pickle(str(fake_dir / datasets.EXPANDED))
    assert training[0].shape == (200, 784) and len(training[1]) == 200
    assert len(validation[0]) == 30 and len(test[0]) == 20
    r = run("expand-mnist", "--data-dir", str(fake_dir), "--out", str(fake_dir))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("{} is there already".format(fake_dir / datasets.EXPANDED))
    r = run("expand-mnist", "--data-dir", str(fake_dir), "--out", str(fake_dir), "--force", "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].startswith("wrote {} (".format(fake_dir / datasets.EXPANDED))
    again = datasets.read_pickle(str(fake_dir / datasets.EXPANDED))[0]
    assert sorted(again[1].tolist()) == sorted(training[1].tolist())   # the same pairs, shuffled otherwise
    r = run("expand-mnist", "--data-dir", str(fake_dir), "--out", str(fake_dir), "--force")  # seed 0 again
    assert r.returncode == 0, r.stderr


def test_expanded_data_trains_on_the_expanded_file(fake_dir):
    r = run("chapter6", "expanded_data", "--runs", "1", "--epochs", "1", "--limit", "100", "--n", "30",
            "--data-dir", str(fake_dir), "--dtype", "float64")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "FC(640->30, ReLU) -> Softmax(30->10); 100 training images" in lines[0] and "float64" in lines[0]
    assert lines[1] == "Training with expanded data, 30 neurons in the FC layer, run num 0"
    assert len(table_rows(r.stdout)) == 1


def test_the_expanded_file_alone_is_enough(fake_dir, tmp_path, monkeypatch):
    import shutil
    monkeypatch.delenv("CNET_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    shutil.copy(str(fake_dir / datasets.EXPANDED), str(tmp_path))
    training, validation, test = chapter6.load_data(True, str(tmp_path), limit=25, dtype="float64")
    assert [len(part[0]) for part in (training, validation, test)] == [25, 25, 20]
    assert training[0].dtype == np.float64 and training[1].dtype == np.int32
    expected = datasets.read_pickle(str(fake_dir / datasets.EXPANDED))
    np.testing.assert_array_equal(test[0].get_value(), expected[2][0])


def test_double_fc_dropout_votes(fake_dir):
    r = run("chapter6", "double_fc_dropout", "--runs", "2", "--epochs", "1", "--limit", "50",
            "--data-dir", str(fake_dir))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.count("\n\n\nTraining using a dropout network with parameters  0.5 0.5 0.5\n"
                     "Training with expanded data, run num ") == 2
    assert [row[:2] for row in table_rows(out)] == [(0, 0), (1, 1)]
    vote = re.search(r"Accuracy is (\d+\.\d\d)%", out)[1]
    assert "vote of the 2 nets on the test images: {}%".format(vote) in out


def test_missing_expanded_data_names_expand_mnist(tmp_path):
    write_fake_pickle(str(tmp_path / "mnist.pkl.gz"), fake_mnist(n_train=40, n_test=20), 20)
    r = run("chapter6", "expanded_data_double_fc", "--data-dir", str(tmp_path))
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("cnet: error: mnist_expanded.pkl.gz is not in {}".format(tmp_path))
    assert "make it with `cnet expand-mnist`" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["nope"], "unknown experiment 'nope'; conv.py's are: " + ", ".join(chapter6.EXPERIMENTS)),
    ([], "name an experiment: one of " + ", ".join(chapter6.EXPERIMENTS)),
    (["shallow", "--n", "300"], "--n: shallow has no FC width to choose"),
    (["shallow", "--limit", "5"], "--limit 5: fewer images than one mini-batch of 10"),
    (["shallow", "--save", "/nonexistent-cnet-dir/x"], "--save /nonexistent-cnet-dir/x-0.json: no directory"),
])
def test_bad_arguments_are_one_line_before_any_work(args, message):
    r = run("chapter6", *args)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("cnet: error: " + message) and len(r.stderr.splitlines()) == 1


def test_save_names_a_directory_or_a_prefix(tmp_path):
    from cnet.cli.chapter6 import save_path
    assert save_path(str(tmp_path), "omit_FC", 2) == str(tmp_path / "omit_FC-2.json")
    assert save_path("nets/", "omit_FC", 0) == os.path.join("nets", "omit_FC-0.json")
    assert save_path(str(tmp_path / "mine"), "omit_FC", 1) == str(tmp_path / "mine-1.json")


# ------------------------------------------------------------ predict

def test_predict_takes_a_network3_file(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    from cnet import images
    np.random.seed(0)
    monkeypatch.setattr(network3, "floatX", "float64")
    net = network3.Network(chapter6.build(chapter6.layer_specs("omit_FC")), 10)
    net.layers[1].w.set_value(np.random.default_rng(0).normal(0, 0.3, (2880, 10)))
    saved = str(tmp_path / "conv.json")
    net.save(saved)
    digit = np.zeros((28, 28))
    digit[6:22, 12:16] = 0.9                      # a bar: a one
    picture = str(tmp_path / "one.png")
    images.write_png(digit, picture)
    x = images.to_mnist(picture).reshape(1, 784)
    expected = int(net.predict(x)[0])
    for extra in ([], ["--backend", "numpy"]):
        r = run("predict", saved, picture, *extra)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("{}: {}   probabilities {} ".format(picture, expected, expected))
        scores = [float(s) for s in re.findall(r"\d (\d\.\d{3})", r.stdout)]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)


def test_the_progress_bar_counts_each_epochs_images_and_steps_aside_for_the_lines(monkeypatch):
    from cnet.cli import chapter6 as cli
    events = []

    def fake_bar(total, desc, unit="it"):
        events.append(("open", total))
        return (lambda n: events.append(("update", n))), (lambda: events.append(("close",)))

    monkeypatch.setattr(cli, "progress_bar", fake_bar)
    x = np.zeros((10010, 784), np.float32)
    data = [(network3.Shared(x), network3.Shared(np.zeros(10010, np.int32)))] + \
        [(network3.Shared(x[:20]), network3.Shared(np.zeros(20, np.int32)))] * 2
    with redirect_stdout(io.StringIO()) as out:
        chapter6.run("shallow", data, runs=1, epochs=2, watch=cli._watch)
    # one bar an epoch, taken down before "Training mini-batch number 1000" and 2000,
    # then put back where it was
    opens = [j for j, e in enumerate(events) if e[0] == "open"]
    assert [events[j] for j in opens] == [("open", 10010)] * 4
    assert [events[j + 1] for j in opens] == [("update", 0), ("update", 10000), ("update", 0), ("update", 9990)]
    assert events.count(("close",)) == 4 and events[-1] == ("close",)
    steps = [e for j, e in enumerate(events) if e[0] == "update" and j - 1 not in opens]
    assert steps == [("update", 10)] * 2002
    assert "Training mini-batch number 2000" in out.getvalue()


def test_threads_give_the_same_lines_and_saved_nets(fake_dir, tmp_path):
    # --threads reaches the networks: two threads print one thread's lines and save its bits
    outputs = []
    for threads in ("1", "2"):
        prefix = str(tmp_path / ("t" + threads))
        r = run("chapter6", "double_fc_dropout", "--runs", "1", "--epochs", "2", "--limit", "50",
                "--threads", threads, "--data-dir", str(fake_dir), "--save", prefix)
        assert r.returncode == 0, r.stderr
        outputs.append(([line for line in r.stdout.splitlines() if "saved to" not in line and not ROW.fullmatch(line)],
                        [row[:4] for row in table_rows(r.stdout)],
                        [p.get_value() for p in network3.load(prefix + "-0.json").params]))
    (lines1, rows1, params1), (lines2, rows2, params2) = outputs
    assert lines1 == lines2 and rows1 == rows2
    for a, b in zip(params1, params2):
        np.testing.assert_array_equal(a, b)
    r = run("chapter6", "shallow", "--threads", "0", "--data-dir", str(fake_dir))
    assert r.returncode == 2 and "--threads" in r.stderr
