"""A sweep's results: the identity of a run, its records in a JSON-lines file, and their summary table."""
import json
import os
import statistics

FORMAT = "cnet-sweep/1"
# fields of a record that depend on where and when it ran, not on its configuration
VOLATILE = ("seconds", "machine")
METRICS = ("evaluation_accuracy", "evaluation_cost", "training_accuracy", "training_cost")


def identity(config):
    """The canonical JSON of a normalized configuration: what identifies a run."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)


def same(a, b):
    """Whether two records hold the same run and the same numbers (everything but
    the fields in ``VOLATILE``)."""
    def strip(r):
        return {k: v for k, v in r.items() if k not in VOLATILE}
    return strip(a) == strip(b)


# ------------------------------------------------------------ the results file

def read(path, repair=False):
    """The records in the results file ``path`` (none if it does not exist), in
    file order.

    A last line without its newline is what a killed sweep leaves: it is
    skipped (and cut off the file when ``repair`` is true), to be run again.
    Any other line that is not a record of this format is a ``ValueError``:
    the file is something else, and nothing is written to it.
    """
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    tail = lines.pop()                 # what follows the last newline: b"" or a half-written line
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ValueError("{}: line {} is not JSON; not a cnet sweep results file".format(
                path, number)) from None
        if not (isinstance(obj, dict) and obj.get("format") == FORMAT and isinstance(obj.get("config"), dict)):
            found = obj.get("format") if isinstance(obj, dict) else None
            raise ValueError("{}: line {} is not a cnet sweep record (expected a JSON object with "
                             "\"format\": \"{}\"{}); not a cnet sweep results file".format(
                                 path, number, FORMAT, ", found {!r}".format(found) if found else ""))
        records.append(obj)
    if tail.strip():
        start = _PREFIX[:len(tail)]
        if not tail.startswith(_PREFIX) and tail != start:
            raise ValueError("{}: line {} is not a cnet sweep record; not a cnet sweep results "
                             "file".format(path, len(lines) + 1))
        if repair:
            with open(path, "r+b") as f:
                f.truncate(len(raw) - len(tail))
    return records


_PREFIX = json.dumps({"format": FORMAT})[:-1].encode()   # how every record's line starts


def _writable(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError("cannot write {}: no directory {}".format(path, directory))
    if os.path.isdir(path):
        raise ValueError("cannot write {}: it is a directory".format(path))
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise ValueError("cannot write {}: {}".format(path, exc.strerror or exc)) from None


def _append(path, record):
    line = json.dumps(record, allow_nan=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


# ------------------------------------------------------------ summaries

def _percent(record, count):
    return 100.0 * count / record["n_evaluation"]


def summarize(records):
    """One row per configuration (seeds pooled), in order of first appearance: a dict
    with ``config`` (without ``seed``), ``seeds``, and the median and spread
    (max − min) over seeds of the final and the best evaluation accuracy, in
    percent, and of the seconds per run."""
    groups = {}
    for r in records:
        config = {k: v for k, v in r["config"].items() if k != "seed"}
        groups.setdefault(identity(config), (config, []))[1].append(r)
    rows = []
    for config, rs in groups.values():
        final = [_percent(r, r["final_accuracy"]) for r in rs if r["final_accuracy"] is not None]
        best = [_percent(r, r["best_accuracy"]) for r in rs if r["best_accuracy"] is not None]
        seconds = [r["seconds"] for r in rs]
        rows.append({"config": config, "seeds": [r["config"]["seed"] for r in rs],
                     "final_median": statistics.median(final) if final else None,
                     "final_spread": max(final) - min(final) if final else None,
                     "best_median": statistics.median(best) if best else None,
                     "best_spread": max(best) - min(best) if best else None,
                     "seconds_median": statistics.median(seconds)})
    return rows


def _show(value):
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if value is None:
        return "all"
    return "{:g}".format(value) if isinstance(value, float) else str(value)


def table(records):
    """The summary of ``records`` as text: a line with what all runs share, then a
    row per configuration with the keys that vary."""
    rows = summarize(records)
    if not rows:
        return "no runs"
    names = []
    for row in rows:
        names += [k for k in row["config"] if k not in names]
    varying = [k for k in names if len({_show(r["config"].get(k, "-")) for r in rows}) > 1]
    shared = [k for k in names if k not in varying]
    lines = ["all runs: " + ", ".join("{} {}".format(k, _show(rows[0]["config"][k])) for k in shared)]
    head = [k for k in varying] + ["seeds", "final accuracy %", "best accuracy %", "s/run"]
    body = []
    for r in rows:
        def pair(m, s):
            return "-" if m is None else "{:6.2f} ±{:.2f}".format(m, s / 2)
        body.append([_show(r["config"].get(k, "-")) for k in varying]
                    + [str(len(r["seeds"])), pair(r["final_median"], r["final_spread"]),
                       pair(r["best_median"], r["best_spread"]), "{:.2f}".format(r["seconds_median"])])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)).rstrip() for b in body]
    lines.append("accuracy on the {} images: median over seeds ± half its range (max − min)".format(
        "/".join(sorted({r["config"]["evaluate_on"] for r in rows}))))
    return "\n".join(lines)

