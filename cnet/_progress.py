"""A progress bar on the terminal: tqdm's when it is installed (``pip install
tqdm``), a plain percentage otherwise, and nothing at all when
stderr is not a terminal (notebooks, logs, CI)."""
import sys


def progress_bar(total, desc, unit="it"):
    """``(update, close)``: ``update(n)`` advances the bar by n, ``close()`` ends it."""
    if not sys.stderr.isatty():
        return (lambda n: None), (lambda: None)
    try:
        from tqdm import tqdm
    except ImportError:
        done = [0]

        def update(n):
            done[0] += n
            if total:
                sys.stderr.write("\r{} {:3d}%".format(desc, 100 * done[0] // total))
                sys.stderr.flush()

        def close():
            sys.stderr.write("\r" + " " * (len(desc) + 5) + "\r")

        return update, close
    bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False)
    return bar.update, bar.close
