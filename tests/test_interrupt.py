"""Ctrl-C in the middle of a long epoch: a real SIGINT sent to a child process."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import cnet
from cnet._kernels.spec import dense_chain
from cnet._kernels import numpy_kernels
from cnet.functions import CrossEntropyCost
from conftest import make_data
from test_datasets import fake_mnist, write_fake_idx, write_fake_pickle

HERE = os.path.dirname(os.path.abspath(__file__))
# the children import the cnet these tests import
ENV = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(cnet.__file__))))
WAIT = 1.0      # seconds of training before the signal


def interrupt(args, started, wait=WAIT):
    """Start ``args``, send SIGINT ``wait`` seconds after the line for which ``started``
    is true, and return (that line, the seconds from the signal to the next line
    (None if the child ended first), the process, the rest of its output)."""
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=ENV, cwd=HERE)
    try:
        for line in child.stdout:
            if started(line):
                break
        else:
            raise AssertionError("the child ended before training: " + child.stderr.read())
        time.sleep(wait)
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        nxt = child.stdout.readline()
        latency = time.perf_counter() - sent
        out, err = child.communicate(timeout=300)
        return line, latency, nxt, child, out, err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_sigint_stops_an_epoch_between_mini_batches(backend, threads):
    line, latency, nxt, child, out, err = interrupt(
        [sys.executable, os.path.join(HERE, "interrupt_child.py"), backend, str(threads)],
        lambda line: line.startswith("started"))
    epoch = json.loads(line.split(" ", 1)[1])["epoch"]
    assert nxt == "caught\n", err
    assert child.returncode == 0, err
    # stopped within a second or so, long before the epoch would have ended
    assert latency < 5.0
    assert epoch > 4 * (WAIT + latency)
    checks = json.loads(out.split("checks ", 1)[1])
    assert checks["finite"]
    assert checks["permutation"]
    # the published parameters are those after a whole number of mini-batches, not
    # after a step that was half done (nor a half-written list)
    assert checks["mini_batches"] is not None and checks["mini_batches"] >= 1
    assert checks["continues"]


def test_cli_sigint_mid_epoch(tmp_path):
    # the loader keeps the last 10,000 for validation: 10,100 to train on
    write_fake_idx(str(tmp_path), fake_mnist(n_train=20100, n_test=50), gz=False)
    line, latency, nxt, child, out, err = interrupt(
        [sys.executable, "-u", "-m", "cnet", "train", "--sizes", "784,1000,1000,10", "--epochs", "1",
         "--data-dir", str(tmp_path)],
        lambda line: line.startswith("cnet: [784, 1000, 1000, 10] on 10100 training images"),
        wait=3.0)       # past the packing of the data: in the kernels' epoch (of tens of seconds)
    assert nxt == "", nxt           # no epoch line: it stopped in the middle of epoch 0
    assert child.returncode == 130
    assert err.strip().endswith("cnet: interrupted")
    assert latency < 5.0


def test_chapter6_sigint_on_two_threads(tmp_path):
    # network3's kernels share their calls with a crew of worker threads, which block
    # every signal: Ctrl-C reaches the thread running Python, which stops the run
    write_fake_pickle(str(tmp_path / "mnist.pkl.gz"), fake_mnist(n_train=3000, n_test=100), 2900)
    line, latency, nxt, child, out, err = interrupt(
        [sys.executable, "-u", "-m", "cnet", "chapter6", "dbl_conv_relu", "--threads", "2", "--epochs", "1000",
         "--data-dir", str(tmp_path)],
        lambda line: line.startswith("Training mini-batch number 0"), wait=2.0)
    assert child.returncode == 130, err
    assert err.strip().endswith("cnet: interrupted")
    assert latency < 5.0


@pytest.mark.skipif(not sys.platform.startswith("linux") or cnet._kernels.compiled is None,
                    reason="reads the crew's threads in /proc")
def test_the_crews_threads_block_every_signal():
    assert cnet._kernels.compiled.crew_meet(2) in (1, 2)
    crew = []
    for task in os.listdir("/proc/self/task"):
        with open("/proc/self/task/{}/comm".format(task)) as fh:
            if fh.read().strip() == "cnet-crew":
                with open("/proc/self/task/{}/status".format(task)) as fh:
                    crew.append(int([line for line in fh if line.startswith("SigBlk:")][0].split()[1], 16))
    if cnet._kernels.compiled.threads_supported():
        assert crew
    for blocked in crew:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
            assert blocked >> (sig - 1) & 1, "signal {} reaches a crew thread".format(sig)


class CutShort(np.ndarray):
    """An array whose first whole assignment (a[...] = v) raises KeyboardInterrupt
    instead of writing: Ctrl-C arriving in the middle of a step."""
    armed = True

    def __setitem__(self, key, value):
        if key is Ellipsis and CutShort.armed:
            CutShort.armed = False
            raise KeyboardInterrupt
        super().__setitem__(key, value)


def test_numpy_kernels_step_is_whole_when_interrupted():
    sizes = [6, 5, 4, 3]
    rng = np.random.default_rng(4)
    weights = [rng.standard_normal((j, i)) for i, j in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal((j, 1)) for j in sizes[1:]]
    X, Y = map(np.array, zip(*[(x.ravel(), y.ravel()) for x, y in make_data(sizes, 8, rng)]))
    order = np.arange(8, dtype=np.intp)
    args = (X, Y, order, 8, 0.5, 2.0, 8, CrossEntropyCost)
    expected_w, expected_b = [w.copy() for w in weights], [b.copy() for b in biases]
    numpy_kernels.train(expected_w, expected_b, *args, spec=dense_chain(sizes))
    # the interrupt lands after layer 0's weights are written, before layer 1's
    weights[1] = weights[1].view(CutShort)
    CutShort.armed = True
    with pytest.raises(KeyboardInterrupt):
        numpy_kernels.train(weights, biases, *args, spec=dense_chain(sizes))
    assert not CutShort.armed
    for got, want in zip(weights + biases, expected_w + expected_b):
        np.testing.assert_array_equal(np.asarray(got), want)
