"""python -m cnet, on a small MNIST-shaped data set made here."""
import json
import os
import re
import subprocess
import sys
import tempfile

import pytest

from test_datasets import fake_mnist, write_fake_idx


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mnist")
    write_fake_idx(str(d), fake_mnist(n_train=10100, n_test=50), gz=False)
    return str(d)


def run(*args, env=None):
    """``python -m cnet ARGS`` run from outside the source tree, so that it imports
    the installed (compiled) package, as a user's shell would."""
    full_env = dict(os.environ)
    full_env.pop("CNET_DATA_DIR", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "cnet"] + list(args), capture_output=True,
                          text=True, env=full_env, timeout=300, cwd=tempfile.gettempdir())


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_train_save_and_evaluate(data_dir, tmp_path, backend):
    saved = str(tmp_path / "net.json")
    r = run("train", "--epochs", "2", "--limit", "100", "--sizes", "784,20,10", "--seed", "3",
            "--backend", backend, "--data-dir", data_dir, "--save", saved)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("cnet: [784, 20, 10] on 100 training images, 2 epochs")
    assert "kernels (float64" in lines[0]
    assert re.fullmatch(r"Epoch 0: \d+ / 50 \(\d+\.\d\d%\)  \d+\.\d\d s", lines[1])
    assert re.fullmatch(r"Epoch 1: \d+ / 50 .*", lines[2])
    assert json.load(open(saved))["sizes"] == [784, 20, 10]
    r2 = run("evaluate", saved, "--data-dir", data_dir, "--backend", backend)
    assert r2.returncode == 0, r2.stderr
    # the saved network scores what the last epoch printed
    assert r2.stdout.split(": ")[1].split(" (")[0] == lines[2].split(": ")[1].split(" (")[0]


def test_environment_variable_names_the_data(data_dir):
    r = run("train", "--epochs", "1", "--limit", "50", "--dtype", "float32",
            env={"CNET_DATA_DIR": data_dir})
    assert r.returncode == 0, r.stderr
    assert "1 epoch, " in r.stdout and "kernels (float32" in r.stdout and "Epoch 0: " in r.stdout


@pytest.mark.parametrize("args, code, message", [
    (["train", "--epochs", "0"], 2, "--epochs: expected a positive int"),
    (["train", "--eta", "nan"], 2, "--eta"),
    (["train", "--sizes", "784"], 2, "--sizes"),
    (["train", "--backend", "gpu"], 2, "--backend"),
    (["fly"], 2, "invalid choice"),
])
def test_bad_options(args, code, message):
    r = run(*args)
    assert r.returncode == code
    assert message in r.stderr and "Traceback" not in r.stderr


def test_errors_are_one_line(data_dir, tmp_path):
    r = run("train", "--data-dir", str(tmp_path / "nowhere"))
    assert r.returncode == 1
    assert r.stderr.startswith("cnet: error: ") and r.stderr.count("\n") == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    for path in (str(bad), str(tmp_path / "missing.json")):
        r = run("evaluate", path, "--data-dir", data_dir)
        assert r.returncode == 1 and r.stderr.startswith("cnet: error: ")
        assert "Traceback" not in r.stderr
    r = run("train", "--sizes", "784,30,5", "--data-dir", data_dir)
    assert r.returncode == 1 and "--sizes" in r.stderr
