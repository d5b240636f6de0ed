"""In a Jupyter notebook the progress bar that long runs show appears.

The kernel is ``python3``, which jupyter_client resolves to this interpreter's
own ipykernel (nothing is installed into the user's Jupyter); each run checks
that the kernel's Python is this one's."""
import re
import sys

import pytest

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


def stderr(c):
    return "".join(o.text for o in c.outputs if o.output_type == "stream" and o.name == "stderr")


def has_bar(c, desc, total):
    """Whether the cell showed a progress bar named ``desc`` that reached ``total``:
    tqdm's widget, or its text bar on stderr (a kernel without ipywidgets)."""
    if any(o.output_type == "display_data" and WIDGET in o.get("data", {}) for o in c.outputs):
        return True
    return re.search(r"{}: *100%.*\b{}/{}\b".format(desc, total, total), stderr(c)) is not None


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
