"""A progress bar where someone is watching: tqdm's (``pip install tqdm``)
through ``tqdm.auto`` -- in a Jupyter notebook a widget under the cell (a text
bar there when ipywidgets is not installed), on a terminal a text bar -- or,
without tqdm, a plain percentage; and nothing at all anywhere else (logs, CI,
a pipe), where a bar would only fill the output with carriage returns."""
import sys
import warnings


def in_notebook():
    """Whether this process is a Jupyter kernel: IPython is loaded (it is not
    imported here) and its shell has a kernel (plain IPython on a terminal has none)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:   # a half-imported or foreign IPython: no notebook
        return False
    return getattr(shell, "kernel", None) is not None


def _auto_tqdm():
    """``tqdm.auto.tqdm``, without the warning it gives once, on import, in a
    kernel without ipywidgets (it then draws the text bar, which is fine)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        from tqdm.auto import tqdm
    return tqdm


def progress_bar(total, desc, unit="it"):
    """``(update, close)``: ``update(n)`` advances the bar by n, ``close()`` ends it."""
    notebook = in_notebook()
    if not notebook and not sys.stderr.isatty():
        return (lambda n: None), (lambda: None)
    try:
        tqdm = _auto_tqdm()
    except ImportError:
        done = [0]

        def update(n):
            done[0] += n
            if total:
                sys.stderr.write("\r{} {:3d}%".format(desc, 100 * done[0] // total))
                sys.stderr.flush()

        def close():
            sys.stderr.write("\r" + " " * (len(desc) + 5) + "\r")
            sys.stderr.flush()

        return update, close
    # a terminal's bar is erased when it ends, the printed lines around it stay
    # readable; a notebook's stays under its cell, showing what ran and how long.
    # Counts in the thousands (images, bytes) read best in SI units (50.0k), a
    # few runs as they are (3/3, not 3.00/3.00)
    bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=not total or total >= 1000, leave=notebook)
    return bar.update, bar.close
