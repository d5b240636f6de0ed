"""The benchmark suite: implementations x network sizes, one MNIST epoch each.

    CNET_DATA_DIR=~/mnist python benchmarks/suite.py [--json out.json] [--compare old.json]

Every (implementation, size) pair runs in a fresh Python process, so that its
peak memory (ru_maxrss) is its own.  Each trains one epoch over the 50,000
training images (mini-batch 10, eta 3.0, float64, one thread unless the
implementation says otherwise) from the same
initial parameters and shuffle, then evaluates the 10,000 test images.  The
table gives seconds per epoch (the epoch alone; checking and stacking the data
is timed apart), the ratio to the per-example NumPy fallback, the test
accuracy after the epoch, the most memory NumPy and Python held at once while
training (tracemalloc; the training set itself is held before and is not
counted) next to the size of the training set, and the process's peak RSS
(which loading MNIST dominates).

Implementations:
  cnet          the compiled kernels (cnet.network, backend "cython")
  cnet-f32      the same in float32 (dtype=np.float32: not bit-faithful to the book)
  cnet-2t       cnet on two threads (num_threads=2: the same bits as one thread)
  fallback      cnet's pure-NumPy kernels, the book's per-example algorithm
  numpy-batch   the same algorithm with each mini-batch as one matrix (here, below)
  torch         the same, in PyTorch, when it is installed (never a dependency)
  book          the book's network.py itself (tests/book.py), per-example NumPy
  sub-cost-derivative    a cnet.network subclass overriding cost_derivative (a − y,
                the book's formula): cnet calls it per example, as the book does
  sub-update-mini-batch  a subclass overriding update_mini_batch (deferring to
                cnet's): SGD calls it per mini-batch from Python
  net2-cost-class        cnet.network2 with cost=CrossEntropyCost (the class)
  net2-cost-instance     the same with cost=CrossEntropyCost(), as the book's figure
                scripts pass it
  sklearn-b10   scikit-learn's MLPClassifier((30,), activation="logistic", solver="sgd",
  sklearn-b100  momentum=0, alpha=0) at batch_size 10 and 100, one epoch (max_iter=1),
                on one BLAS thread, when scikit-learn is installed (its output layer is
                softmax with the log-loss: the same size of network, not the same
                arithmetic)
  cnet-loglik, fallback-loglik        chapter 3's options, compiled and in the fallback,
  cnet-relu, fallback-relu            each on its own: a softmax output layer with the
  cnet-momentum, fallback-momentum    log-likelihood cost (network2), ReLU hidden
                layers, momentum mu = 0.5 (otherwise the cnet row's network, start and
                shuffle; eta 0.1 for the ReLU rows, where 3.0 diverges)
The subclass rows are reported against the book's code as well, and each option
row against the cnet row (the option's cost) and its own fallback row.

A second table gives, for cnet, the fallback, the book and scikit-learn, what a
user pays per call: "1-epoch call", a whole ``net.SGD(training_data, 1, 10, 3.0)``
on the list of 50,000 pairs (checking and packing the list included: what a
notebook calling SGD once per epoch pays each time -- for cnet, the second call
of a fresh network on a fresh list, which the first call left shuffled, and
"first call" the first; for the book, a first call; for scikit-learn, ``fit``
with max_iter=1 on arrays), and "evaluate(list)", ``net.evaluate(test_data)`` on
the 10,000 test pairs (for scikit-learn, ``predict`` on the test array), each
with its ratio to the book's code in the same run.

Then how the compiled epoch grows with the number of examples and with the
hidden width (it should be linear in both).
"""
import argparse
import contextlib
import io
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

SIZES = ["784,30,10", "784,100,10", "784,100,30,10"]
IMPLEMENTATIONS = ["cnet", "cnet-f32", "cnet-2t", "fallback", "numpy-batch", "torch", "book",
                   "sub-cost-derivative", "sub-update-mini-batch", "net2-cost-class",
                   "net2-cost-instance", "cnet-loglik", "fallback-loglik", "cnet-relu", "fallback-relu",
                   "cnet-momentum", "fallback-momentum"]
SUBCLASSES = ("sub-cost-derivative", "sub-update-mini-batch")
SKLEARN = ("sklearn-b10", "sklearn-b100")
IMPLEMENTATIONS += list(SKLEARN)
OPTIONS = ("loglik", "relu", "momentum")       # chapter 3's, each in a cnet- and a fallback- row
# timed over one epoch only
SLOW = ("fallback", "book") + SUBCLASSES + SKLEARN + tuple("fallback-" + o for o in OPTIONS)
CALLS = ("cnet", "cnet-f32", "cnet-2t", "fallback", "book") + SKLEARN   # rows of the second table


# --------------------------------------------------------------- one run (child)

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def batch_epoch(weights, biases, X, Y, order, mbs, eta, sigmoid):
    """One epoch of the book's SGD with each mini-batch as a matrix (columns are
    examples), for NumPy arrays or PyTorch tensors alike."""
    for start in range(0, len(order), mbs):
        idx = order[start:start + mbs]
        a = X[idx].T
        activations = [a]
        for w, b in zip(weights, biases):
            a = sigmoid(w @ a + b)
            activations.append(a)
        delta = (a - Y[idx].T) * a * (1 - a)          # δ_L = (a − y) ⊙ σ'(z_L)
        m = len(idx)
        for l in range(len(weights) - 1, -1, -1):
            grad_w = delta @ activations[l].T          # Σ_k δ_k a_kᵀ
            grad_b = delta.sum(1)[:, None]             # Σ_k δ_k
            if l:
                prev = activations[l]
                new_delta = (weights[l].T @ delta) * prev * (1 - prev)
            weights[l] -= (eta / m) * grad_w
            biases[l] -= (eta / m) * grad_b
            if l:
                delta = new_delta


def _network_class(impl):
    """The class that implementation ``impl`` trains."""
    import warnings

    from cnet import network, network2
    warnings.simplefilter("ignore")      # the subclasses' notice that they leave the compiled path

    class CostDerivative(network.Network):
        def cost_derivative(self, output_activations, y):
            return output_activations - y

    class UpdateMiniBatch(network.Network):
        def update_mini_batch(self, mini_batch, eta):
            return super().update_mini_batch(mini_batch, eta)

    return {"sub-cost-derivative": CostDerivative, "sub-update-mini-batch": UpdateMiniBatch,
            "net2-cost-class": network2.Network, "net2-cost-instance": network2.Network,
            "cnet-loglik": network2.Network, "fallback-loglik": network2.Network,
            }.get(impl, network.Network)


def _option(impl):
    """The chapter-3 option of an option row ("loglik", "relu", "momentum"), or None."""
    base, _, option = impl.partition("-")
    return option if base in ("cnet", "fallback") and option in OPTIONS else None


def child(impl, sizes, repeat, n_train, seed):
    """Run one configuration; print a JSON line with what it measured."""
    from cnet import mnist_loader, network2
    (tr_x, tr_y), _, (te_x, te_y) = mnist_loader.load_data()
    tr_x, tr_y = tr_x[:n_train], tr_y[:n_train]
    data_bytes = tr_x.nbytes
    epochs, stack, correct, calls, evaluations = [], None, None, [], []
    first_calls = []
    if impl == "book":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
        import book
        training_data = [(x.reshape(-1, 1), np.eye(10)[y].reshape(10, 1)) for x, y in zip(tr_x, tr_y)]
        test_data = [(x.reshape(-1, 1), int(y)) for x, y in zip(te_x, te_y)]
        del tr_x
        for run in range(repeat + 1):
            np.random.seed(seed)
            random.seed(seed)
            net = book.Network(sizes)
            order = list(training_data)
            if run == repeat:
                tracemalloc.start()
            begin = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                net.SGD(order, 1, 10, 3.0)
            if run == repeat:
                train_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            else:
                epochs.append(time.perf_counter() - begin)
        calls = epochs          # the book's SGD(training_data, 1, ...) is its epoch
        correct, evaluations = timed_evaluations(net, test_data, repeat)
    elif impl in SKLEARN:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)            # one thread, as every other row
        X, X_test = tr_x.astype(np.float64), te_x.astype(np.float64)
        for run in range(repeat + 1):
            clf = MLPClassifier((30,), activation="logistic", solver="sgd", momentum=0, alpha=0,
                                batch_size=10 if impl == "sklearn-b10" else 100, learning_rate_init=0.1,
                                max_iter=1, random_state=seed)
            if run == repeat:
                tracemalloc.start()
            begin = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, tr_y)
            if run == repeat:
                train_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            else:
                epochs.append(time.perf_counter() - begin)
        calls = epochs
        evaluations = []
        for _ in range(max(repeat, 3)):
            begin = time.perf_counter()
            predicted = clf.predict(X_test)
            evaluations.append(time.perf_counter() - begin)
        correct = int(np.sum(predicted == te_y))
    elif impl in ("cnet", "cnet-f32", "cnet-2t", "fallback") + SUBCLASSES + (
            "net2-cost-class", "net2-cost-instance") or _option(impl):
        Network = _network_class(impl)
        option = _option(impl)
        cost = {"net2-cost-class": network2.CrossEntropyCost,
                "net2-cost-instance": network2.CrossEntropyCost()}.get(impl)
        if option == "loglik":
            cost = network2.LogLikelihoodCost
        eta = 0.1 if option == "relu" else 3.0
        training_data = [(x.reshape(-1, 1), np.eye(10)[y].reshape(10, 1)) for x, y in zip(tr_x, tr_y)]
        test_data = [(x.reshape(-1, 1), int(y)) for x, y in zip(te_x, te_y)]
        del tr_x
        # the timed runs, then one more under tracemalloc (which slows allocation) for memory
        for run in range(repeat + 1):
            np.random.seed(seed)
            random.seed(seed)
            net = Network(sizes, backend="numpy" if impl.startswith("fallback") else "cython",
                          dtype=np.float32 if impl == "cnet-f32" else np.float64,
                          num_threads=2 if impl == "cnet-2t" else 1,
                          **({"cost": cost} if cost is not None else {}))
            if cost is not None:
                net.large_weight_initializer()      # the same start as the other rows
            if option == "relu":
                net.activation = "relu"
            marks = {}
            order = list(training_data)  # every run shuffles the same list from the same order
            if run == repeat:
                tracemalloc.start()
            begin = time.perf_counter()
            net._sgd(order, 1, 10, eta, 0.0,
                     lambda j, X, Y, marks=marks: marks.setdefault("end", time.perf_counter()),
                     lambda done, total, marks=marks: marks.setdefault("start", time.perf_counter()), 1,
                     step=lambda mini_batch, net=net: net.update_mini_batch(mini_batch, eta),
                     mu=0.5 if option == "momentum" else 0.0)
            if run == repeat:
                train_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            else:
                epochs.append(marks["end"] - marks["start"])
                stack = marks["start"] - begin
        if impl in CALLS:
            # what a user pays per call: a whole SGD(training_data, 1, 10, 3.0), then evaluate
            for _ in range(repeat):
                np.random.seed(seed)
                random.seed(seed)
                net = Network(sizes, backend="numpy" if impl == "fallback" else "cython",
                              dtype=np.float32 if impl == "cnet-f32" else np.float64,
                              num_threads=2 if impl == "cnet-2t" else 1)
                order = list(training_data)
                # a notebook's loop: the first call on the list as loaded, the next
                # ones on the list as the calls before left it (shuffled)
                for call in range(1 if impl == "fallback" else 2):
                    begin = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):
                        net.SGD(order, 1, 10, 3.0)
                    (calls if call else first_calls).append(time.perf_counter() - begin)
                    if call == 0:       # the accuracy after one epoch, as the other rows'
                        correct, evaluations = timed_evaluations(net, test_data, repeat)
            calls = calls or first_calls
        else:
            correct = net.accuracy(test_data) if cost is not None else net.evaluate(test_data)
    else:
        np.random.seed(seed)
        biases = [np.random.randn(y, 1) for y in sizes[1:]]
        weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]
        X = tr_x.astype(np.float64)
        Y = np.eye(10)[tr_y]
        rng = np.random.default_rng(seed)
        if impl == "torch":
            import torch
            torch.set_num_threads(1)
            X, Y = torch.from_numpy(X), torch.from_numpy(Y)
        for run in range(repeat + 1):
            if run == repeat:
                tracemalloc.start()
            w = [a.copy() for a in weights]
            b = [a.copy() for a in biases]
            if impl == "torch":
                w = [torch.from_numpy(a) for a in w]
                b = [torch.from_numpy(a) for a in b]
            order = rng.permutation(len(tr_y))
            start = time.perf_counter()
            if impl == "torch":
                with torch.no_grad():
                    batch_epoch(w, b, X, Y, torch.from_numpy(order), 10, 3.0, torch.sigmoid)
            else:
                batch_epoch(w, b, X, Y, order, 10, 3.0, _sigmoid)
            if run < repeat:
                epochs.append(time.perf_counter() - start)
        train_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        a = te_x.T.astype(np.float64)
        for wl, bl in zip(w, b):
            a = _sigmoid(np.asarray(wl) @ a + np.asarray(bl))
        correct = int(np.sum(np.argmax(a, axis=0) == te_y))
    print(json.dumps({
        "implementation": impl, "sizes": sizes, "examples": n_train,
        "epoch_seconds": statistics.median(epochs), "epoch_runs": epochs, "stack_seconds": stack,
        "call_seconds": statistics.median(calls) if calls else None,
        "first_call_seconds": statistics.median(first_calls or calls) if calls else None,
        "evaluate_seconds": statistics.median(evaluations) if evaluations else None,
        "accuracy": correct / len(te_y),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "train_peak_mb": train_peak / 2 ** 20,
        "data_mb": data_bytes / 2 ** 20,
    }))


def timed_evaluations(net, test_data, repeat):
    """(correct, [seconds of each of max(repeat, 3) calls of net.evaluate(test_data)])."""
    seconds = []
    for _ in range(max(repeat, 3)):
        begin = time.perf_counter()
        correct = net.evaluate(test_data)
        seconds.append(time.perf_counter() - begin)
    return correct, seconds


# --------------------------------------------------------------- the driver

def run(impl, sizes, repeat, n_train=50000, seed=1):
    cmd = [sys.executable, __file__, "--child", impl, "--child-sizes", sizes,
           "--repeat", str(repeat), "--examples", str(n_train), "--seed", str(seed)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        return {"implementation": impl, "sizes": sizes, "error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def have_torch():
    return have("torch")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", default=SIZES)
    p.add_argument("--implementations", nargs="+", default=IMPLEMENTATIONS)
    p.add_argument("--repeat", type=int, default=5, help="epochs timed for the fast implementations")
    p.add_argument("--no-scaling", action="store_true", help="skip the scaling runs")
    p.add_argument("--json", metavar="FILE", help="write the results here")
    p.add_argument("--compare", metavar="FILE", help="a previous --json file to compare with")
    p.add_argument("--child")
    p.add_argument("--child-sizes")
    p.add_argument("--examples", type=int, default=50000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, [int(s) for s in args.child_sizes.split(",")], args.repeat,
              args.examples, args.seed)
        return 0

    from cnet import _kernels
    impls = [i for i in args.implementations
             if (i != "torch" or have_torch()) and (i not in SKLEARN or have("sklearn"))]
    print("cnet suite: compiled kernels {}; {} {}, Python {}; torch {}".format(
        getattr(_kernels.compiled, "ISA", "not built"), platform.machine(), platform.processor(),
        platform.python_version(), "yes" if have_torch() else "not installed (skipped)"))
    previous = {}
    if args.compare:
        with open(args.compare) as f:
            previous = {(r["implementation"], ",".join(map(str, r["sizes"]))): r
                        for r in json.load(f)["results"] if "epoch_seconds" in r}
    results = []
    header = "{:<15} {:<21} {:>9} {:>8} {:>9} {:>8} {:>9} {:>8} {:>8}".format(
        "sizes", "impl", "s/epoch", "ratio", "stack s", "accuracy", "train MB", "data MB", "RSS MB")
    if previous:
        header += " {:>9}".format("vs prev")
    print(header)
    print("-" * len(header))
    for sizes in args.sizes:
        rows = [run(impl, sizes, 1 if impl in SLOW else args.repeat) for impl in impls]
        base = next((r["epoch_seconds"] for r in rows if r.get("implementation") == "fallback"
                     and "epoch_seconds" in r), None)
        for r in rows:
            if "error" in r:
                print("{:<15} {:<21} error: {}".format(sizes, r["implementation"], r["error"]))
                continue
            r["ratio_to_fallback"] = base / r["epoch_seconds"] if base else None
            line = "{:<15} {:<21} {:>9.4f} {:>8} {:>9} {:>7.2f}% {:>9.0f} {:>8.0f} {:>8.0f}".format(
                sizes, r["implementation"], r["epoch_seconds"],
                "{:.1f}x".format(r["ratio_to_fallback"]) if base else "-",
                "{:.3f}".format(r["stack_seconds"]) if r["stack_seconds"] is not None else "-",
                100 * r["accuracy"], r["train_peak_mb"], r["data_mb"], r["peak_mb"])
            old = previous.get((r["implementation"], sizes))
            if old:
                line += " {:>8.2f}x".format(old["epoch_seconds"] / r["epoch_seconds"])
            print(line)
            results.append(r)
        done = {r["implementation"]: r for r in rows if "epoch_seconds" in r}
        if "book" in done:
            print("{:<15} against the book's code: {}".format("", ", ".join(
                "{} {:.1f}x faster".format(i, done["book"]["epoch_seconds"] / done[i]["epoch_seconds"])
                for i in ("cnet",) + SUBCLASSES if i in done)))
        for option in OPTIONS:
            if "cnet-" + option in done and "cnet" in done:
                r = done["cnet-" + option]
                print("{:<15} {}: {:.2f}x the cnet epoch{}".format(
                    "", option, r["epoch_seconds"] / done["cnet"]["epoch_seconds"],
                    ", {:.1f}x faster than its fallback".format(
                        done["fallback-" + option]["epoch_seconds"] / r["epoch_seconds"])
                    if "fallback-" + option in done else ""))
        calls = [done[i] for i in CALLS if i in done and done[i].get("call_seconds")]
        if calls:
            book = done.get("book")
            print("\n{:<15} {:<21} {:>12} {:>12} {:>8} {:>15} {:>8}".format(
                sizes, "what a call costs", "first call", "1-epoch call", "vs book", "evaluate(list)", "vs book"))
            for r in calls:
                print("{:<15} {:<21} {:>10.4f} s {:>10.4f} s {:>8} {:>13.4f} s {:>8}".format(
                    "", r["implementation"], r["first_call_seconds"], r["call_seconds"],
                    "{:.1f}x".format(book["call_seconds"] / r["call_seconds"]) if book else "-",
                    r["evaluate_seconds"],
                    "{:.1f}x".format(book["evaluate_seconds"] / r["evaluate_seconds"]) if book else "-"))
            print()
        if "net2-cost-class" in done and "net2-cost-instance" in done:
            print("{:<15} cost=CrossEntropyCost() takes {:.2f}x the time of cost=CrossEntropyCost".format(
                "", done["net2-cost-instance"]["epoch_seconds"] / done["net2-cost-class"]["epoch_seconds"]))
    if not args.no_scaling:
        print("\ncompiled epoch against the number of examples ([784, 30, 10]):")
        for n in (10000, 25000, 50000):
            r = run("cnet", "784,30,10", args.repeat, n_train=n)
            print("  {:>6} examples {:>8.4f} s  {:>6.2f} us/example".format(
                n, r["epoch_seconds"], 1e6 * r["epoch_seconds"] / n))
            results.append(dict(r, scaling="examples"))
        print("compiled epoch against the hidden width ([784, h, 10], 50,000 examples):")
        for h in (16, 32, 64, 128, 256):
            r = run("cnet", "784,{},10".format(h), args.repeat)
            print("  h = {:>3} {:>8.4f} s  {:>6.2f} ms per hidden neuron".format(
                h, r["epoch_seconds"], 1e3 * r["epoch_seconds"] / h))
            results.append(dict(r, scaling="hidden"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": platform.machine(), "python": platform.python_version(),
                       "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
