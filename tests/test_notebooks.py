"""The example notebooks (examples/*.ipynb) run top to bottom in a fresh Jupyter
kernel, on a slice of MNIST (``CNET_EXAMPLE_SLICE``), and show what their prose
says: the book's printed lines, the figures, a predicted digit.  And the
progress bar that long runs show appears in a notebook.

The kernel is ``python3``, which jupyter_client resolves to this interpreter's
own ipykernel (nothing is installed into the user's Jupyter); each run checks
that the kernel's Python is this one's.

``python tests/test_notebooks.py [--slice N] [NOTEBOOK ...]`` executes the
notebooks (default: all, at the book's sizes) and saves them with their outputs,
as they are committed: no widget state, progress bars as their last line."""
import base64
import glob
import io
import os
import re
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SLICE = 1000
WIDGET = "application/vnd.jupyter.widget-view+json"
CHECK_KERNEL = "import sys; print(sys.prefix)"

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def execute(nb, cwd, timeout=600, record=True):
    """Run ``nb`` (in place) in a new ``python3`` kernel started in ``cwd``, having
    checked that the kernel runs this interpreter (out of the notebook's history)."""
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=timeout, record_timing=record,
                                     store_widget_state=record, resources={"metadata": {"path": str(cwd)}})
    printed = []

    async def check_kernel(notebook):
        def hook(msg):
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
        await client.kc.execute_interactive(CHECK_KERNEL, store_history=False, output_hook=hook, timeout=60)
        assert "".join(printed).strip() == sys.prefix, "the python3 kernel runs {}'s Python, not this " \
            "one's ({})".format("".join(printed).strip(), sys.prefix)

    client.on_notebook_start = check_kernel
    client.execute()
    assert printed, "the kernel was not checked"
    return nb


def examples():
    """The example notebooks' paths; skips where the tree has no examples/ (an sdist
    made without them)."""
    if not os.path.isdir(EXAMPLES):
        pytest.skip("no examples/ directory in this tree")
    return sorted(glob.glob(os.path.join(EXAMPLES, "*.ipynb")))


def run_example(name, tmp_path, monkeypatch):
    examples()
    monkeypatch.setenv("CNET_EXAMPLE_SLICE", str(SLICE))
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    return execute(nb, tmp_path)


def cell(nb, text):
    """The one code cell whose source contains ``text``."""
    found = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    assert len(found) == 1, "{} code cells contain {!r}".format(len(found), text)
    return found[0]


def stdout(c):
    return "".join(o.text for o in c.outputs if o.output_type == "stream" and o.name == "stdout")


def stderr(c):
    return "".join(o.text for o in c.outputs if o.output_type == "stream" and o.name == "stderr")


def png(c):
    """The PNG bytes the cell displayed (exactly one image)."""
    images = [o for o in c.outputs if o.output_type in ("execute_result", "display_data")
              and "image/png" in o.get("data", {})]
    assert len(images) == 1, c.outputs
    return base64.b64decode(images[0].data["image/png"])


def has_bar(c, desc, total):
    """Whether the cell showed a progress bar named ``desc`` that reached ``total``:
    tqdm's widget, or its text bar on stderr (a kernel without ipywidgets)."""
    if any(o.output_type == "display_data" and WIDGET in o.get("data", {}) for o in c.outputs):
        return True
    return re.search(r"{}: *100%.*\b{}/{}\b".format(desc, total, total), stderr(c)) is not None


def no_errors(nb):
    for c in nb.cells:
        if c.cell_type == "code":
            assert not [o for o in c.outputs if o.output_type == "error"], c.source


# ------------------------------------------------------------ the notebooks

def test_chapter1_prints_the_books_epoch_lines(mnist_dir, tmp_path, monkeypatch):
    nb = run_example("chapter1.ipynb", tmp_path, monkeypatch)
    no_errors(nb)
    lines = stdout(cell(nb, "net.SGD(")).splitlines()
    assert re.fullmatch(r"CPU times: .*", lines[-2]) and re.fullmatch(r"Wall time: .*", lines[-1]), lines
    epochs = [re.fullmatch(r"Epoch (\d+): (\d+) / (\d+)", line) for line in lines[:-2]]
    assert all(epochs), lines            # the book's lines and nothing else, then %%time's
    assert [int(m.group(1)) for m in epochs] == [0, 1, 2, 3, 4]
    assert {int(m.group(3)) for m in epochs} == {SLICE}
    # it learns: chance is 10%, and 60 runs from random starts reached 40% to 69%
    assert max(int(m.group(2)) for m in epochs) > 0.25 * SLICE
    summary = stdout(cell(nb, "net.evaluate(test_data)"))
    assert re.search(r"test image 0 is a 7; the network says \d\n", summary), summary
    assert re.search(r"correct on the test images: \d+ / {}\n".format(SLICE), summary), summary


def test_chapter3_monitors_and_draws_the_books_figures(mnist_dir, tmp_path, monkeypatch):
    from PIL import Image

    nb = run_example("chapter3.ipynb", tmp_path, monkeypatch)
    no_errors(nb)
    out = stdout(cell(nb, "evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = net.SGD("))
    assert re.findall(r"Epoch (\d+) training complete", out) == ["0", "1"]
    assert len(re.findall(r"Accuracy on training data: \d+ / {}\n".format(SLICE), out)) == 2
    assert len(re.findall(r"Accuracy on evaluation data: \d+ / {}\n".format(SLICE), out)) == 2
    assert re.fullmatch(r"best epoch [01]: \d+\.\d\d% of the test images, \d+\.\d\d% of the training images\n",
                        stdout(cell(nb, "best epoch")))
    overfitting = stdout(cell(nb, "def overfitting_run("))
    assert re.fullmatch(r"λ = 0\.0: \d+\.\d\d% of the training images, \d+\.\d\d% of the test images after 10 epochs\n"
                        r"λ = 0\.1: .* after 10 epochs\n", overfitting), overfitting
    assert has_bar(cell(nb, "sweep.run("), "sweep", 3)     # the three η's runs
    for text, name, size in (("def overfitting_run(", "overfitting.png", (900, 360)),
                             ("sweep.run(", "multiple_eta.png", (600, 400))):
        c = cell(nb, text)
        path = tmp_path / name
        assert png(c) == path.read_bytes()          # the figure shown is the file written
        with Image.open(path) as figure:
            assert figure.size == size
            assert len(figure.convert("RGB").getcolors(1 << 16)) > 20   # lines and text, not a blank
    rows = stdout(cell(nb, "sweep.summarize(etas)")).splitlines()
    assert [r.split()[2] for r in rows] == ["0.025", "0.25", "2.5"], rows
    assert all(re.fullmatch(r"η = \S+ +final accuracy on the validation images \d+\.\d\d%", r) for r in rows), rows


def test_own_digit_predicts_a_drawn_digit(mnist_dir, tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    nb = run_example("own_digit.ipynb", tmp_path, monkeypatch)
    no_errors(nb)
    training = stdout(cell(nb, "net.SGD("))
    assert len(re.findall(r"Accuracy on evaluation data: \d+ / {}\n".format(SLICE), training)) == 3
    drawing = Image.open(io.BytesIO(png(cell(nb, "pen.line([(60, 50)"))))
    assert drawing.size == (240, 240)
    with Image.open(tmp_path / "my_digit_28x28.png") as seen:
        assert seen.size == (28, 28) and seen.mode == "L"
        pixels = np.asarray(seen, dtype=np.float64)
    # MNIST's framing: ink on black, in the middle (centre of mass near pixel (14, 14))
    assert pixels.max() == 255 and (pixels[:2] == 0).all() and (pixels[:, :2] == 0).all()
    rows, cols = np.indices(pixels.shape)
    assert abs((rows * pixels).sum() / pixels.sum() - 14) < 0.5
    assert abs((cols * pixels).sum() / pixels.sum() - 14) < 0.5
    assert Image.open(io.BytesIO(png(cell(nb, 'images.write_png(x, "my_digit_28x28.png")')))).size == (112, 112)
    guess = re.match(r"the network reads a (\d+)\n", stdout(cell(nb, "guess = ")))
    assert guess and 0 <= int(guess.group(1)) <= 9
    more = re.findall(r"drew a (\d), the network reads a (\d+)\n", stdout(cell(nb, "drawings = {}")))
    assert [int(d) for d, _ in more] == [0, 1, 4, 6] and all(0 <= int(r) <= 9 for _, r in more)


def test_the_notebooks_are_saved_with_outputs_and_small():
    """What a reader sees on GitHub: every code cell ran, in order, without errors,
    and no widget state weighs the files down."""
    paths = examples()
    assert [os.path.basename(p) for p in paths] == ["chapter1.ipynb", "chapter3.ipynb", "own_digit.ipynb"]
    for path in paths:
        with open(path, encoding="utf-8") as f:
            nb = nbformat.read(f, as_version=4)
        nbformat.validate(nb)
        assert "widgets" not in nb.metadata, path
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), path
        no_errors(nb)
        for c in nb.cells:
            for o in c.get("outputs", []):
                assert WIDGET not in o.get("data", {}), path
                assert "\r" not in o.get("text", ""), path
        assert os.path.getsize(path) < 300_000, path


# ------------------------------------------------------------ the progress bar

def test_a_notebook_shows_the_progress_bar(tmp_path):
    """In a Jupyter kernel (whose stderr is not a terminal) the bar is drawn: a
    widget, or a text bar without ipywidgets."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from cnet._progress import progress_bar\n"
        "update, close = progress_bar(40, 'demo', unit='step')\n"
        "for _ in range(40):\n"
        "    update(1)\n"
        "close()")])
    c = execute(nb, tmp_path).cells[0]
    assert not [o for o in c.outputs if o.output_type == "error"], c.outputs
    assert has_bar(c, "demo", 40), c.outputs


def test_the_progress_bar_in_a_kernel_without_a_terminal(monkeypatch, capsys):
    """In-process: stderr is not a terminal (pytest captures it); with an IPython
    shell that has a kernel the text bar is written, without one nothing is."""
    import types

    pytest.importorskip("tqdm")
    from cnet import _progress

    def run():
        update, close = _progress.progress_bar(3, "demo", unit="step")
        for _ in range(3):
            update(1)
        close()
        return capsys.readouterr().err

    fake = types.ModuleType("IPython")
    shell = types.SimpleNamespace(kernel=None)
    fake.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.setattr(_progress, "_auto_tqdm", lambda: __import__("tqdm").tqdm)
    assert run() == ""                              # IPython on a terminal: no kernel, not a tty here
    shell.kernel = object()
    assert re.search(r"demo: 100%.*3/3", run())      # a kernel: the bar
    monkeypatch.delitem(sys.modules, "IPython")
    assert run() == ""                              # a log: nothing


# ------------------------------------------------------------ saving them

def _clean(nb):
    """The executed ``nb`` as committed: no widget state or widget views (a
    reader's page cannot run them), each cell's consecutive stream outputs merged
    (as Jupyter shows them), and carriage-return updates collapsed to what a
    screen shows last."""
    nb.metadata.pop("widgets", None)
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        outputs = []
        for o in c.outputs:
            if WIDGET in o.get("data", {}):
                continue
            if o.output_type == "stream" and outputs and outputs[-1].output_type == "stream" \
                    and outputs[-1].name == o.name:
                outputs[-1].text += o.text
            else:
                outputs.append(o)
        for o in outputs:
            if o.output_type == "stream":
                o.text = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in o.text.split("\n"))
        c.outputs = outputs
    return nb


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(description="Execute the example notebooks and save them with outputs.")
    parser.add_argument("--slice", type=int, help="CNET_EXAMPLE_SLICE (default: the book's sizes)")
    parser.add_argument("notebooks", nargs="*", default=sorted(glob.glob(os.path.join(EXAMPLES, "*.ipynb"))))
    args = parser.parse_args(argv)
    if args.slice:
        os.environ["CNET_EXAMPLE_SLICE"] = str(args.slice)
    else:
        os.environ.pop("CNET_EXAMPLE_SLICE", None)
    for path in args.notebooks:
        with open(path, encoding="utf-8") as f:
            nb = nbformat.read(f, as_version=4)
        with tempfile.TemporaryDirectory() as cwd:      # the figures it writes go here
            execute(nb, cwd, timeout=3600, record=False)
        with open(path, "w", encoding="utf-8") as f:
            nbformat.write(_clean(nb), f)
        print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
