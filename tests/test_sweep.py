"""cnet.sweep and ``python -m cnet sweep``: grids of network2 runs, serial, on joblib
processes and on a real Dask LocalCluster, with a results file that survives a kill."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import cnet
from cnet import mnist_loader, network2, sweep
from test_datasets import fake_mnist, write_fake_idx

# where the cnet under test lives: subprocesses and worker processes import it from there
CNET_PATH = os.path.dirname(os.path.dirname(os.path.abspath(cnet.__file__)))

GRID = dict(sizes=[[784, 10, 10], [784, 16, 10]], eta=[0.5, 3.0], seeds=[0, 1], epochs=3,
            monitor_training_accuracy=True)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A small MNIST-shaped data set: 400 training, 10,000 validation, 200 test images."""
    d = tmp_path_factory.mktemp("mnist")
    write_fake_idx(str(d), fake_mnist(n_train=10400, n_test=200), gz=False)
    return str(d)


@pytest.fixture(scope="module")
def serial(data_dir):
    return sweep.run(GRID, n_jobs=1, data_dir=data_dir)


def env():
    # the children import this cnet: PYTHONPATH names it, and PYTHONSAFEPATH keeps `python -c`
    # and `-m` from putting the current directory (a source checkout's root) first
    e = dict(os.environ)
    e["PYTHONPATH"] = CNET_PATH + os.pathsep + e.get("PYTHONPATH", "")
    e["PYTHONSAFEPATH"] = "1"
    e.pop("CNET_DATA_DIR", None)
    return e


def by_identity(records):
    return {sweep.identity(r["config"]): r for r in records}


def assert_same_records(a, b):
    a, b = by_identity(a), by_identity(b)
    assert sorted(a) == sorted(b)
    for key in a:
        assert sweep.same(a[key], b[key]), key


# ------------------------------------------------------------ configurations

def test_grid_is_the_cartesian_product():
    configs = sweep.grid(sizes=[[784, 10, 10], [784, 20, 10]], eta=[0.5, 3], seeds=[0, 1, 2], epochs=2)
    assert len(configs) == 12
    assert configs[0] == {"sizes": [784, 10, 10], "eta": 0.5, "seed": 0, "epochs": 2}
    assert configs[-1] == {"sizes": [784, 20, 10], "eta": 3, "seed": 2, "epochs": 2}
    assert sweep.grid(sizes=[784, 30, 10]) == [{"sizes": [784, 30, 10]}]   # one network, not three widths
    with pytest.raises(ValueError, match="'eta' has no values, so the grid is empty"):
        sweep.grid(eta=[], seeds=[0])
    with pytest.raises(ValueError, match="the sweep is empty"):
        sweep.check([])


def test_canonical_configuration():
    a = sweep.normalize({"eta": 3, "lmbda": 0, "cost": network2.CrossEntropyCost, "seed": 1,
                         "sizes": (784, 30, 10), "dtype": np.float64, "backend": None})
    b = sweep.normalize({"seed": 1, "eta": 3.0, "cost": "cross-entropy"})
    assert a == b and sweep.identity(a) == sweep.identity(b)
    assert a == dict(sweep.DEFAULTS, seed=1)           # defaults of network2 are not part of a run's name
    c = sweep.normalize({"lmbda": 5, "cost": "quadratic", "dtype": "float32"})
    assert c["lmbda"] == 5.0 and isinstance(c["lmbda"], float)
    assert c["cost"] == "QuadraticCost" and c["dtype"] == "float32"
    assert sweep.identity(c) != sweep.identity(sweep.normalize({}))


@pytest.mark.parametrize("config, message", [
    ({"etaa": 3.0}, "unknown configuration key 'etaa'; expected some of: activation, backend, cost, dtype"),
    ({"training_data": []}, "'training_data' is set by the sweep itself"),
    ({"num_threads": 2}, "'num_threads' is set by the sweep itself"),
    ({"sizes": [784, 30, 5]}, "must start with 784 .* end with 10"),
    ({"sizes": [784]}, "at least two positive widths"),
    ({"epochs": 0}, "'epochs': expected an integer >= 1"),
    ({"seed": None}, "'seed': expected an integer >= 0"),
    ({"n_train": 0}, "'n_train': expected a positive integer"),
    ({"evaluate_on": "training"}, "'evaluate_on': expected one of"),
    ({"eta": float("nan")}, "'eta': nan is not a finite number"),
    ({"eta": -1.0}, "eta must be a finite number > 0"),                      # network2's own check
    ({"lmbda": -1.0}, "lmbda"),
    ({"mini_batch_size": 0}, "mini_batch_size"),
    ({"cost": "nope"}, "known costs: CrossEntropyCost, LogLikelihoodCost, QuadraticCost"),
    ({"backend": "gpu"}, "backend must be one of"),
    ({"dtype": "int8"}, "dtype must be numpy.float64 or numpy.float32"),
    ({"eta": object()}, "not a plain value"),
])
def test_bad_configurations_are_refused_before_any_run(data_dir, tmp_path, config, message):
    out = tmp_path / "runs.jsonl"
    good = {"sizes": [784, 10, 10], "epochs": 1}
    started = []
    with pytest.raises((ValueError, TypeError), match=message):
        sweep.run([good, dict(good, **config)], out=str(out), n_jobs=1, data_dir=data_dir,
                  on_record=lambda r, done: started.append(r))
    assert started == [] and not out.exists()


def test_options_added_to_network2_are_configuration_keys(data_dir, monkeypatch):
    """The keys come from the signatures: an option added to Network and SGD is
    accepted at once, and reaches them."""
    seen = []

    class Network(network2.Network):
        def __init__(self, sizes, cost=network2.CrossEntropyCost, seed=None, backend=None,
                     dtype=np.float64, num_threads=None, mu=0.0):
            super().__init__(sizes, cost=cost, seed=seed, backend=backend, dtype=dtype,
                             num_threads=num_threads)
            self.mu = mu

        def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, schedule="constant", **kw):
            seen.append((self.mu, schedule, self.num_threads))
            return super().SGD(training_data, epochs, mini_batch_size, eta, lmbda, **kw)

    monkeypatch.setattr(network2, "Network", Network)
    assert "mu" in sweep.keys() and "schedule" in sweep.keys()
    assert "mu" not in sweep.normalize({"mu": 0.0})               # its default: not part of the name
    records = sweep.run({"sizes": [784, 10, 10], "epochs": 1, "mu": [0.0, 0.5], "schedule": "halve"},
                        n_jobs=1, data_dir=data_dir)
    assert [r["config"].get("mu") for r in records] == [None, 0.5]
    assert [r["config"]["schedule"] for r in records] == ["halve", "halve"]
    # each run (after the checking dry runs) trains on one thread with the configuration's options
    assert seen[-2:] == [(0.0, "halve", 1), (0.5, "halve", 1)]
    with pytest.raises(ValueError, match="unknown configuration key 'nu'"):
        sweep.run({"nu": [1]}, n_jobs=1, data_dir=data_dir)


# ------------------------------------------------------------ runs and records

def test_a_record_is_a_plain_network2_run(data_dir, serial):
    training, _, test = mnist_loader.load_data_wrapper(data_dir)
    record = serial[5]
    assert record["config"] == {"sizes": [784, 16, 10], "cost": "CrossEntropyCost", "epochs": 3,
                                "mini_batch_size": 10, "eta": 0.5, "n_train": None,
                                "evaluate_on": "test", "seed": 1, "monitor_training_accuracy": True}
    net = network2.Network([784, 16, 10], seed=1)
    eval_cost, eval_accuracy, _, train_accuracy = net.SGD(
        training, 3, 10, 0.5, evaluation_data=test, monitor_evaluation_cost=True,
        monitor_evaluation_accuracy=True, monitor_training_accuracy=True)
    assert record["evaluation_cost"] == eval_cost
    assert record["evaluation_accuracy"] == eval_accuracy
    assert record["training_accuracy"] == train_accuracy and record["training_cost"] == []
    assert record["n_train"] == 400 and record["n_evaluation"] == 200 and record["epochs_run"] == 3
    assert record["best_accuracy"] == max(eval_accuracy)
    assert record["best_epoch"] == eval_accuracy.index(max(eval_accuracy))
    assert record["final_accuracy"] == eval_accuracy[-1]
    assert record["cnet_version"] == cnet.__version__ and record["backend"] == net.backend
    assert record["seconds"] > 0 and record["machine"]["pid"] == os.getpid()
    json.dumps(record, allow_nan=False)                       # plain JSON


def test_n_train_and_validation(data_dir):
    training, validation, _ = mnist_loader.load_data_wrapper(data_dir)
    [record] = sweep.run([{"sizes": [784, 10, 10], "epochs": 2, "n_train": 50, "evaluate_on": "validation",
                           "lmbda": 1.0, "monitor_training_cost": True}], n_jobs=1, data_dir=data_dir)
    net = network2.Network([784, 10, 10], seed=0)
    monitors = net.SGD(training[:50], 2, 10, 3.0, lmbda=1.0, evaluation_data=validation,
                       monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                       monitor_training_cost=True)
    assert (record["evaluation_cost"], record["evaluation_accuracy"], record["training_cost"]) == monitors[:3]
    assert record["n_train"] == 50 and record["n_evaluation"] == 10000
    with pytest.raises(ValueError, match="n_train is 401, but there are only 400 training images"):
        sweep.run([{"n_train": 401}], n_jobs=1, data_dir=data_dir)


def test_diverged_runs_are_recorded(data_dir, tmp_path):
    out = tmp_path / "runs.jsonl"
    with np.errstate(all="ignore"):
        inf_cost, nan_weights = sweep.run(
            [{"sizes": [784, 16, 10], "epochs": 2, "eta": 100.0},
             {"sizes": [784, 10, 10], "epochs": 2, "eta": 1e6, "cost": "QuadraticCost", "lmbda": 1e3}],
            out=str(out), n_jobs=1, data_dir=data_dir)
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert [json.loads(line) for line in text.splitlines()] == [inf_cost, nan_weights]
    # an infinite cost is null; the accuracies are still there
    assert inf_cost["evaluation_cost"] == [None, None] and len(inf_cost["evaluation_accuracy"]) == 2
    assert "error" not in inf_cost
    # weights that overflow to NaN stop network2's SGD: the record says so, and the sweep goes on
    assert "contains nan" in nan_weights["error"] and nan_weights["evaluation_accuracy"] == []
    assert nan_weights["best_epoch"] is None and nan_weights["final_accuracy"] is None
    assert "784,10,10" in sweep.table([inf_cost, nan_weights])


def test_serial_joblib_and_dask_give_the_same_records(data_dir, serial, tmp_path):
    joblib = pytest.importorskip("joblib")
    distributed = pytest.importorskip("dask.distributed")
    out = tmp_path / "runs.jsonl"
    processes = sweep.run(GRID, out=str(out), n_jobs=2, data_dir=data_dir)
    assert [r["config"] for r in processes] == [r["config"] for r in serial]   # in the grid's order
    assert_same_records(serial, processes)
    # the file holds the same records, one valid JSON object a line, in the order the runs ended
    lines = out.read_text().splitlines()
    assert len(lines) == 8
    assert_same_records([json.loads(line) for line in lines], processes)
    assert by_identity(sweep.read(str(out))) == by_identity(processes)
    # trained in two other processes, each of which loaded the data once
    pids = {r["machine"]["pid"] for r in processes}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {r["machine"]["data_loads"] for r in processes} == {1}

    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_config(backend="dask"):
            on_dask = sweep.run(GRID, data_dir=data_dir)
        workers = set(client.run(os.getpid).values())
    assert_same_records(serial, on_dask)
    # trained in the cluster's two worker processes, each loading the data once
    assert len(workers) == 2 and {r["machine"]["pid"] for r in on_dask} <= workers
    assert {r["machine"]["data_loads"] for r in on_dask} == {1}


# ------------------------------------------------------------ the results file

def test_results_file_resumes_and_refuses_other_files(data_dir, serial, tmp_path):
    out = tmp_path / "runs.jsonl"
    first = sweep.run(dict(GRID, seeds=[0]), out=str(out), n_jobs=1, data_dir=data_dir)
    before = out.read_bytes()
    ran = []
    records = sweep.run(GRID, out=str(out), n_jobs=1, data_dir=data_dir,
                        on_record=lambda r, done: ran.append((r["config"]["seed"], done)))
    assert out.read_bytes().startswith(before)               # nothing rewritten
    assert sorted(ran) == [(0, True)] * 4 + [(1, False)] * 4    # only seed 1 trained
    assert_same_records(records, serial)
    assert_same_records(first, [r for r in records if r["config"]["seed"] == 0])

    # a half-written last line is dropped and its run redone
    full = out.read_bytes()
    lines = full.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:-1]) + lines[-1][:57])
    redone = []
    again = sweep.run(GRID, out=str(out), n_jobs=1, data_dir=data_dir,
                      on_record=lambda r, done: redone.append(done))
    assert redone.count(False) == 1 and len(out.read_bytes().splitlines()) == 8
    assert_same_records(again, serial)
    assert all(json.loads(line)["format"] == sweep.FORMAT for line in out.read_bytes().splitlines())

    # records of configurations outside the grid stay in the file, untouched
    sweep.run(dict(GRID, seeds=[5], sizes=[[784, 10, 10]], eta=[0.5]), out=str(out), n_jobs=1,
              data_dir=data_dir)
    assert len(sweep.read(str(out))) == 9


@pytest.mark.parametrize("content, message", [
    (b"sizes,eta,accuracy\n784,3.0,95\n", "line 1 is not JSON; not a cnet sweep results file"),
    (b'{"sizes": [784, 30, 10], "weights": [], "biases": [], "cost": "CrossEntropyCost"}\n',
     "line 1 is not a cnet sweep record"),
    (b'{"format": "cnet-sweep/9", "config": {}}\n', "found 'cnet-sweep/9'"),
    (b'{"sizes": [784, 30, 10], "weights": [], "biases": [], "cost": "CrossEntropyCost"}',
     "line 1 is not a cnet sweep record"),                  # no newline: still not ours, not cut
])
def test_a_file_of_another_format_is_refused_untouched(data_dir, tmp_path, content, message):
    out = tmp_path / "net.json"
    out.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        sweep.run(GRID, out=str(out), n_jobs=1, data_dir=data_dir)
    assert out.read_bytes() == content


def test_unwritable_output_is_refused_before_any_run(data_dir, tmp_path):
    with pytest.raises(ValueError, match="cannot write .*: no directory"):
        sweep.run(GRID, out=str(tmp_path / "nowhere" / "runs.jsonl"), n_jobs=1, data_dir=data_dir)
    with pytest.raises(ValueError, match="it is a directory"):
        sweep.run(GRID, out=str(tmp_path), n_jobs=1, data_dir=data_dir)
    if os.geteuid() != 0:          # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ValueError, match="cannot write"):
            sweep.run(GRID, out=str(locked / "runs.jsonl"), n_jobs=1, data_dir=data_dir)


SLOW_GRID = dict(sizes=[[784, 30, 10]], eta=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], seeds=[0],
                 epochs=60)
SWEEP_SCRIPT = """
import sys
from cnet import sweep
sweep.run({grid!r}, out=sys.argv[1], n_jobs=1, data_dir=sys.argv[2])
"""


def test_a_killed_sweep_resumes_losing_nothing(data_dir, tmp_path):
    out = tmp_path / "runs.jsonl"
    script = SWEEP_SCRIPT.format(grid=SLOW_GRID)
    child = subprocess.Popen([sys.executable, "-c", script, str(out), data_dir], env=env())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    kept = out.read_bytes()
    done_before = kept.count(b"\n")
    assert 2 <= done_before < 8
    # what a kill in the middle of a write leaves, if this one did not
    if kept.endswith(b"\n"):
        with open(out, "ab") as f:
            f.write(b'{"format": "cnet-sweep/1", "config": {"sizes": [784, 30')
    restart = subprocess.run([sys.executable, "-c", script, str(out), data_dir], env=env(),
                             capture_output=True, text=True, timeout=120)
    assert restart.returncode == 0, restart.stderr
    final = out.read_bytes()
    complete = kept[:kept.rfind(b"\n") + 1]
    assert final.startswith(complete)                    # every finished run kept, byte for byte
    records = sweep.read(str(out))
    assert len(records) == 8 and len(by_identity(records)) == 8
    pids = [r["machine"]["pid"] for r in records]
    assert pids[:done_before] == [child.pid] * done_before   # ... and not run again
    assert len(set(pids[done_before:])) == 1 and child.pid not in pids[done_before:]
    assert sorted(r["config"]["eta"] for r in records) == SLOW_GRID["eta"]


# ------------------------------------------------------------ the command line

def cli(*args, cwd=None):
    # a scheduler that does not answer is given up after 2 s (Dask's default: 30 s)
    e = dict(env(), DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="2s")
    return subprocess.run([sys.executable, "-m", "cnet"] + list(args), capture_output=True, text=True,
                          env=e, timeout=300, cwd=cwd)


def test_command_line(data_dir, tmp_path, serial):
    out = tmp_path / "runs.jsonl"
    args = ["sweep", "--sizes", "784,10,10", "784,16,10", "--eta", "0.5", "3", "--seeds", "0", "1",
            "--epochs", "3", "--param", "monitor_training_accuracy", "true", "--data-dir", data_dir,
            "--out", str(out)]
    r = cli(*args, "--jobs", "2", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "cnet sweep: 8 runs, on 2 processes"
    assert lines[1].startswith("all runs: cost CrossEntropyCost, epochs 3, mini_batch_size 10")
    assert lines[2].split() == ["sizes", "eta", "seeds", "final", "accuracy", "%", "best", "accuracy", "%",
                                "s/run"]
    rows = [line.split() for line in lines[4:8]]
    assert [row[:3] for row in rows] == [["784,10,10", "0.5", "2"], ["784,10,10", "3", "2"],
                                         ["784,16,10", "0.5", "2"], ["784,16,10", "3", "2"]]
    # final accuracy: the median over the two seeds, ± half their range
    finals = [100.0 * r["final_accuracy"] / 200 for r in serial[:2]]
    assert rows[0][3:5] == ["{:.2f}".format(np.median(finals)), "±{:.2f}".format(abs(finals[0] - finals[1]) / 2)]
    assert_same_records(sweep.read(str(out)), serial)
    again = cli(*args, "--jobs", "1")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == "cnet sweep: 8 runs, 8 already in {}".format(out)
    assert again.stdout.splitlines()[4:8] == lines[4:8]


@pytest.mark.parametrize("args, code, message", [
    (["--etaa", "3"], 2, "unrecognized arguments: --etaa"),
    (["--eta"], 2, "--eta: expected at least one argument"),
    (["--eta", "-3"], 2, "--eta: expected a positive float"),
    (["--param", "nu", "1"], 1, "cnet: error: unknown configuration key 'nu'"),
    (["--param", "eta", "1", "--eta", "2"], 1, "--param eta repeats a key"),
    (["--sizes", "784,30,5"], 1, "must start with 784"),
    (["--out", "/nonexistent/runs.jsonl"], 1, "cannot write /nonexistent/runs.jsonl"),
    (["--scheduler", "tcp://127.0.0.1:9"], 1, "cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
])
def test_command_line_errors(data_dir, args, code, message):
    r = cli("sweep", "--data-dir", data_dir, "--epochs", "1", *args)
    assert r.returncode == code
    assert message in r.stderr and "Traceback" not in r.stderr
    assert "cnet sweep:" not in r.stdout                      # no run started


def test_real_mnist_runs_are_single_network_runs(mnist_dir):
    """The issue's check on the real data, shortened: the η = 0.001 and η = 100 runs of
    [784, 15, 10] seed 0 are what a single Network([784, 15, 10], seed=0) gives."""
    records = sweep.run({"sizes": [784, 15, 10], "eta": [0.001, 100.0], "epochs": 2, "n_train": 2000},
                        n_jobs=1, data_dir=mnist_dir)
    training, _, test = mnist_loader.load_data_wrapper(mnist_dir)
    for record, eta in zip(records, [0.001, 100.0]):
        net = network2.Network([784, 15, 10], seed=0)
        cost, accuracy, _, _ = net.SGD(training[:2000], 2, 10, eta, evaluation_data=test,
                                       monitor_evaluation_accuracy=True, monitor_evaluation_cost=True)
        assert record["evaluation_accuracy"] == accuracy
        assert record["evaluation_cost"] == [c if np.isfinite(c) else None for c in cost]


def sweep_grid(*argv):
    from cnet.__main__ import parser
    from cnet.cli import sweep as command
    return command.grid(parser().parse_args(["sweep"] + list(argv)))


def test_the_sweep_takes_trains_options_under_trains_names():
    grid = sweep_grid("--activation", "tanh", "relu", "--early-stopping", "2", "--seed", "0", "1",
                      "--mu", "0.5", "--regularization", "L1", "L2", "--eta-schedule", "3", "--limit", "100",
                      "--cost", "CrossEntropyCost", "log-likelihood", "--monitor", "training-cost")
    assert grid == {"seed": [0, 1], "n_train": [100], "cost": ["cross-entropy", "log-likelihood"],
                    "early_stopping_n": [2], "activation": ["tanh", "relu"], "regularization": ["L1", "L2"],
                    "mu": [0.5], "eta_schedule_n": [3], "monitor_training_cost": [True]}
    # the sweep's spellings before it took train's: hidden, and the same grid
    assert sweep_grid("--seeds", "0", "1", "--n-train", "100", "--early-stopping-n", "2",
                      "--monitor-training") == \
        sweep_grid("--seed", "0", "1", "--limit", "100", "--early-stopping", "2",
                   "--monitor", "training-accuracy", "training-cost")


def test_the_sweep_runs_trains_options(data_dir, tmp_path):
    out = tmp_path / "runs.jsonl"
    r = cli("sweep", "--sizes", "784,10,10", "--epochs", "3", "--activation", "tanh", "relu",
            "--early-stopping", "1", "--limit", "100", "--jobs", "1", "--data-dir", data_dir, "--out", str(out))
    assert r.returncode == 0, r.stderr
    records = sweep.read(str(out))
    assert [(rec["config"]["activation"], rec["config"]["early_stopping_n"], rec["n_train"])
            for rec in records] == [("tanh", 1, 100), ("relu", 1, 100)]
    training, _, test = mnist_loader.load_data_wrapper(data_dir)
    net = network2.Network([784, 10, 10], seed=0, activation="relu")
    _, accuracy, _, _ = net.SGD(training[:100], 3, 10, 3.0, evaluation_data=test, early_stopping_n=1,
                                monitor_evaluation_accuracy=True)
    assert records[1]["evaluation_accuracy"] == accuracy
