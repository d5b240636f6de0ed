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


# ------------------------------------------------------------ the rough edges a first user hits

def test_monitored_costs_of_the_chapter_1_network(data_dir):
    """The default (quadratic) run is the chapter-1 network, which has no total_cost of
    its own: its monitored costs are the quadratic cost of its weights, as network2
    computes it, and its training accuracy is evaluate's count on the training digits."""
    import numpy as np

    from cnet import mnist_loader, network, network2
    r = run("train", "--epochs", "1", "--limit", "100", "--sizes", "784,20,10", "--seed", "3",
            "--lmbda", "0.5", "--data-dir", data_dir,
            "--monitor", "training-cost", "training-accuracy", "--monitor", "evaluation-cost")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    training, _, test = mnist_loader.load_data_wrapper(data_dir)
    training, test = training[:100], test[:100]
    net = network.Network([784, 20, 10], seed=3)
    net.train_epochs(training, 1, 10, 3.0, 0.5)
    twin = network2.Network([784, 20, 10], cost=network2.QuadraticCost)
    twin.weights, twin.biases = net.weights, net.biases
    assert lines[2:5] == [
        "Cost on training data: {}".format(twin.total_cost(training, 0.5)),
        "Accuracy on training data: {} / 100".format(net.evaluate([(x, int(np.argmax(y))) for x, y in training])),
        "Cost on evaluation data: {}".format(twin.total_cost(test, 0.5, convert=True))]


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_sizes_given_with_spaces_say_commas(command):
    r = run(command, "--sizes", "784", "30", "10")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--sizes: expected at least two positive layer widths separated by commas, such as " \
           "784,30,10 (one argument, no spaces), got '784'" in r.stderr


def test_the_save_path_is_checked_before_training(data_dir, tmp_path):
    missing = str(tmp_path / "missing" / "net.json")
    r = run("train", "--epochs", "1", "--limit", "100", "--data-dir", data_dir, "--save", missing)
    assert r.returncode == 1
    assert r.stdout == ""                               # nothing trained: no header, no epoch
    assert r.stderr == "cnet: error: --save {}: no directory {}\n".format(missing, tmp_path / "missing")
    r = run("train", "--epochs", "1", "--data-dir", data_dir, "--save", str(tmp_path))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == "cnet: error: --save {}: is a directory\n".format(tmp_path)


def test_a_missing_input_file_is_named_in_one_line(data_dir, tmp_path):
    missing = str(tmp_path / "missing.json")
    for args, argument in ((["evaluate", missing, "--data-dir", data_dir], "FILE"),
                           (["predict", missing, "digit.png"], "NET"),
                           (["plot", missing], "FILE")):
        r = run(*args)
        assert r.returncode == 1, args
        assert r.stderr == "cnet: error: {} {}: no such file\n".format(argument, missing), args


def test_an_os_error_is_its_file_and_what_went_wrong():
    from cnet.cli import options
    try:
        open("/nonexistent-cnet-dir/x.png")
    except OSError as exc:
        assert options.error_text(exc) == "/nonexistent-cnet-dir/x.png: no such file or directory"
    assert options.error_text(ValueError("as it is")) == "as it is"


# ------------------------------------------------------------ one module per subcommand

def test_each_subcommand_is_a_module_with_add_parser_and_run():
    import argparse

    from cnet.__main__ import SUBCOMMANDS, parser
    modules = [m.__name__.rsplit(".", 1)[1] for m in SUBCOMMANDS]
    assert modules == ["train", "evaluate", "predict", "sweep", "plot", "info", "chapter6", "expand"]
    names = [{"expand": "expand-mnist"}.get(m, m) for m in modules]
    p = parser()
    subparsers = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    assert list(subparsers.choices) == names
    for module, name in zip(SUBCOMMANDS, names):
        argv = {"evaluate": ["f.json"], "predict": ["n.json", "i.png"], "plot": ["r.jsonl"]}.get(name, [])
        assert p.parse_args([name] + argv).run is module.run


def option_names(command):
    """The options (their names, without hidden aliases) of a subcommand's parser."""
    import argparse

    from cnet.__main__ import parser
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {a.option_strings[0] for a in sub._actions
            if a.option_strings and a.help != argparse.SUPPRESS} - {"-h"}


def test_the_sweep_takes_every_training_option_of_train():
    # those of train that are not about one run: its threads (a sweep's runs have one
    # each) and where it saves the network
    assert option_names("train") - {"--threads", "--save"} <= option_names("sweep")


def test_one_cost_table_and_one_size_check():
    """The command line and the sweep name costs by cnet.functions' table and check
    sizes with one function; the copies they had are gone."""
    import cnet.__main__
    from cnet import sweep
    from cnet.cli import options
    assert not hasattr(cnet.__main__, "COSTS") and not hasattr(sweep, "COST_ALIASES")
    for text in ("cross-entropy", "CrossEntropyCost", "crossentropy"):
        assert options.cost(text) == "cross-entropy"
        assert sweep.normalize({"cost": text})["cost"] == "CrossEntropyCost"
    assert sweep.normalize({"cost": "log-likelihood"})["cost"] == "LogLikelihoodCost"
    with pytest.raises(ValueError, match=r"^--sizes: \[784, 30, 5\] must start with 784"):
        options.check_mnist_sizes([784, 30, 5], "--sizes")
    with pytest.raises(ValueError, match=r"^configuration key 'sizes': \[100, 10\] must start with 784"):
        sweep.normalize({"sizes": [100, 10]})


def test_early_stopping_stops_where_network2s_does(data_dir):
    """--early-stopping N is network2.SGD's early_stopping_n (one rule, the engine's):
    the same epochs, the same accuracies."""
    from cnet import mnist_loader, network2
    r = run("train", "--epochs", "12", "--limit", "100", "--sizes", "784,10,10", "--seed", "1",
            "--cost", "cross-entropy", "--eta", "0.5", "--early-stopping", "1", "--data-dir", data_dir)
    assert r.returncode == 0, r.stderr
    printed = [int(line.split(": ")[1].split(" /")[0]) for line in r.stdout.splitlines()
               if line.startswith("Epoch ")]
    training, _, test = mnist_loader.load_data_wrapper(data_dir)
    net = network2.Network([784, 10, 10], seed=1)
    _, accuracy, _, _ = net.SGD(training[:100], 12, 10, 0.5, evaluation_data=test[:100], early_stopping_n=1,
                                monitor_evaluation_accuracy=True)
    assert printed == accuracy and len(accuracy) < 12
