"""Read the loss curve and step timing of one training run, whatever form it was saved in.

`load_run(path)` accepts any of:

* a results JSON written by `common.results.RunRecorder` (`loss_history`, `loss_every_step`,
  `step_time_ms`, `timing_skipped_steps`, `batch_size`, `log_every`, ...); its losses are
  `loss_every_step` (every step run) when present, else `loss_history` (the logged steps);
* a training log of any of the four models; the step lines recognised are

  =================  ==========================================================================
  ``common hook``    ``step = 100, loss = 2.345678, lr = 1.0e-04, loss_scale = 1024, examples/sec = 123.4``
                     (fields after ``loss`` optional, ``ms/step = X`` possible)
  ``tf estimator``   ``INFO:tensorflow:loss = 0.6931, step = 0 (0.123 sec)`` and
                     ``INFO:tensorflow:global_step/sec: 12.3``
  ``resnext50``      ``step: 1000 epoch: 0.0 FPS: 741.5 loss: 6.766 total_loss: 7.980 lr:0.1``
  ``xlnet``          ``[100] | gnorm 1.23 lr 0.000100 | loss 2.34 | pplx 10.4, bpc 3.3``
  =================  ==========================================================================

  anywhere in a line (absl/TF prefixes such as ``I1122 01:02:03.123 140 hooks.py:55]`` are fine);
  when a log holds several formats (e.g. our hook and the Estimator's own loss lines) the first of
  the table above that occurs is used, never a mix;
* a ``train_<CaseName>_loss.txt`` (one loss per logged step; step = first + index x interval, the
  interval and first step taken from a results JSON in the same folder, else ``loss_every``);
* a run's output folder, searched (two levels deep) for the above, in the order results JSON,
  ``train_*.log``, ``train_*_loss.txt``, other ``*.log``.

Nothing here needs TensorFlow. Problems with the input raise `RunInputError` with a one-line message.
"""

import glob
import json
import math
import os
import re
from collections import OrderedDict

__all__ = ["RunInputError", "Run", "TimingObs", "load_run", "parse_log_text", "mean_step_time"]


class RunInputError(Exception):
    """An input that cannot be read as a run; str() is a one-line, user-facing message."""


_NUM = r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)"
_NUM_RE = re.compile(r"^\s*(" + _NUM + r")\s*$", re.IGNORECASE)

# one regex per format; each must capture step and loss (named groups)
_COMMON_RE = re.compile(r"(?<![\w/])step\s*=\s*(?P<step>\d+)\s*,\s*loss\s*=\s*(?P<loss>" + _NUM + r")(?P<rest>.*)$",
                        re.IGNORECASE)
_COMMON_KV_RE = re.compile(r"([A-Za-z_][\w/]*)\s*=\s*(" + _NUM + r")", re.IGNORECASE)
_TF_RE = re.compile(r"(?<![\w/])loss\s*=\s*(?P<loss>" + _NUM + r")\s*,\s*step\s*=\s*(?P<step>\d+)"
                    r"(?:\s*\((?P<sec>" + _NUM + r")\s*sec\))?", re.IGNORECASE)
_TF_RATE_RE = re.compile(r"global_step/sec:\s*(" + _NUM + r")", re.IGNORECASE)
_RESNEXT_RE = re.compile(r"(?<![\w/])step:\s*(?P<step>\d+)\b(?P<rest>.*)$", re.IGNORECASE)
_RESNEXT_KV_RE = re.compile(r"([A-Za-z_][\w/]*)\s*:\s*(" + _NUM + r")", re.IGNORECASE)
_XLNET_RE = re.compile(r"\[(?P<step>\d+)\]\s*\|.*?(?<![\w/])loss\s+(?P<loss>" + _NUM + r")", re.IGNORECASE)

_PREFIX_RE = re.compile(r"^\s*(?:[IWEF]\d{4} [\d:.]+\s+\d+ [^\]]*\]\s|(?:INFO|WARNING|ERROR):tensorflow:)")

FORMATS = ("common hook", "tf estimator", "resnext50", "xlnet")


def _num(text):
    return float(text)  # float() understands nan / inf / infinity in any case


class TimingObs(object):
    """One timing measurement read from a run.

    kind: "ms" (milliseconds per step), "examples/sec" (needs the batch size), "steps/sec".
    step: the step the measurement was logged at; `window` the number of steps it covers
    (1 for per-step times, None when the logger's window is not known).
    """

    __slots__ = ("step", "kind", "value", "window")

    def __init__(self, step, kind, value, window=None):
        self.step, self.kind, self.value, self.window = int(step), kind, float(value), window

    def __repr__(self):
        return "TimingObs(%d, %r, %g, %r)" % (self.step, self.kind, self.value, self.window)


class Run(object):
    """The loss curve (`loss`: OrderedDict step -> loss, ascending) and timing of one run."""

    def __init__(self, source):
        self.source = source
        self.files = []            # files actually read
        self.fmt = None            # where the losses came from, in words
        self.loss = OrderedDict()
        self.timing = []           # TimingObs, ascending step
        self.timing_from = None    # where the timing came from, in words
        self.skip_steps = None     # warm-up steps, from a results JSON
        self.batch_size = None
        self.log_every = None
        self.json_ms_per_step = None
        self.fingerprint = None    # common/fingerprint.py's record, from a results JSON
        self.precision = None      # {"name", "value"}: the run's final metric, from a results JSON
        self.members = []          # the runs a mean over seeds was made of (common.compare)
        self.notes = []

    @property
    def steps(self):
        return list(self.loss.keys())

    def describe(self):
        steps = self.steps
        span = "steps %d..%d" % (steps[0], steps[-1]) if steps else "no steps"
        return "%d steps with a loss (%s), %s" % (len(steps), span, self.fmt)


# --------------------------------------------------------------------------- parsing a log

def parse_log_text(text, loss_key="loss", source="<log>"):
    """Parse the text of a training log. Returns a Run (files/source not set beyond `source`).

    Raises RunInputError when no step line of any known format is found.
    """
    found = {f: [] for f in FORMATS}       # format -> [(step, loss)]
    timing = {f: [] for f in FORMATS}      # format -> [TimingObs]
    pending_rates = []                     # Estimator's global_step/sec waits for the next loss line
    last_tf_step = None
    tf_steps_seen = []

    previous = None
    for line in text.splitlines():
        # TF 2.x prints its own lines twice (INFO:tensorflow:... and the absl-prefixed copy)
        message = _PREFIX_RE.sub("", line, count=1).strip()
        if message == previous:
            continue
        previous = message
        m = _COMMON_RE.search(line)
        if m:
            step = int(m.group("step"))
            kv = dict((k.lower(), v) for k, v in _COMMON_KV_RE.findall(m.group("rest")))
            loss = m.group("loss") if loss_key == "loss" else kv.get(loss_key.lower())
            if loss is not None:
                found["common hook"].append((step, _num(loss)))
            if "ms/step" in kv:
                timing["common hook"].append(TimingObs(step, "ms", _num(kv["ms/step"])))
            elif "examples/sec" in kv:
                timing["common hook"].append(TimingObs(step, "examples/sec", _num(kv["examples/sec"])))
            continue
        m = _TF_RE.search(line)
        if m:
            step = int(m.group("step"))
            found["tf estimator"].append((step, _num(m.group("loss"))))
            # a rate printed before this line measured the steps that end here
            for rate in pending_rates:
                timing["tf estimator"].append(TimingObs(step, "steps/sec", rate))
            pending_rates = []
            last_tf_step = step
            tf_steps_seen.append(step)
            continue
        m = _TF_RATE_RE.search(line)
        if m:
            pending_rates.append(_num(m.group(1)))
            continue
        m = _XLNET_RE.search(line)
        if m:
            found["xlnet"].append((int(m.group("step")), _num(m.group("loss"))))
            continue
        m = _RESNEXT_RE.search(line)
        if m:
            kv = dict((k.lower(), v) for k, v in _RESNEXT_KV_RE.findall(m.group("rest")))
            if loss_key.lower() in kv:
                step = int(m.group("step"))
                found["resnext50"].append((step, _num(kv[loss_key.lower()])))
                if "fps" in kv:
                    timing["resnext50"].append(TimingObs(step, "examples/sec", _num(kv["fps"])))
            continue

    if pending_rates and last_tf_step is not None:
        # rates after the last loss line: attribute them one logging interval later
        gap = tf_steps_seen[-1] - tf_steps_seen[-2] if len(tf_steps_seen) > 1 else 1
        for rate in pending_rates:
            timing["tf estimator"].append(TimingObs(last_tf_step + gap, "steps/sec", rate))

    run = Run(source)
    for fmt in FORMATS:
        if found[fmt]:
            others = [f for f in FORMATS if f != fmt and found[f]]
            if others:
                run.notes.append("%s: also holds %s step lines; used the %s lines only"
                                 % (os.path.basename(source), " and ".join(others), fmt))
            run.fmt = "%s (%s lines)" % (fmt, loss_key)
            _set_loss(run, found[fmt], source)
            run.timing = timing[fmt]
            if run.timing:
                run.timing_from = {"ms": "ms/step in the step lines",
                                   "examples/sec": ("FPS" if fmt == "resnext50" else "examples/sec")
                                   + " in the step lines x batch size",
                                   "steps/sec": "TF global_step/sec lines"}[run.timing[0].kind]
            return run
    if not text.strip():
        raise RunInputError("%s is empty" % source)
    hint = ("" if loss_key == "loss" else " with a '%s' field" % loss_key)
    raise RunInputError("%s: no training step lines found%s (expected e.g. 'step = 100, loss = 2.3', "
                        "'loss = 2.3, step = 100', 'step: 100 ... loss: 2.3' or '[100] | ... | loss 2.3')"
                        % (source, hint))


def _set_loss(run, pairs, source):
    dup = 0
    for step, loss in pairs:
        if step in run.loss:
            if not (run.loss[step] == loss or (math.isnan(loss) and math.isnan(run.loss[step]))):
                dup += 1
            del run.loss[step]       # keep the last occurrence (e.g. a resumed run logs a step again)
        run.loss[step] = loss
    if dup:
        run.notes.append("%s: %d step(s) logged more than once with different losses; kept the last"
                         % (os.path.basename(source), dup))
    run.loss = OrderedDict(sorted(run.loss.items()))


# --------------------------------------------------------------------------- results JSON

def _read_text(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise RunInputError("%s is a directory where a file was expected" % path)
    except OSError as e:
        raise RunInputError("cannot read %s: %s" % (path, e.strerror or e))
    if not data.strip():
        raise RunInputError("%s is empty" % path)
    if b"\x00" in data[:4096]:
        raise RunInputError("%s looks like a binary file, not a log, loss file or results JSON" % path)
    return data.decode("utf-8", errors="replace")


def _load_json_dict(path):
    text = _read_text(path)
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise RunInputError("%s is not valid JSON (%s)" % (path, str(e).splitlines()[0]))
    if not isinstance(obj, dict):
        raise RunInputError("%s: expected a results JSON object, got %s" % (path, type(obj).__name__))
    return obj


def _pairs(obj, key, path):
    rows = obj.get(key)
    if rows is None:
        return None
    if not isinstance(rows, list):
        raise RunInputError("%s: '%s' should be a list of [step, value] pairs" % (path, key))
    out = []
    for i, row in enumerate(rows):
        if not (isinstance(row, (list, tuple)) and len(row) == 2):
            raise RunInputError("%s: %s[%d] is %r, expected [step, value]" % (path, key, i, row))
        step, value = row
        try:
            step = int(step)
            value = float("nan") if value is None else float(value)
        except (TypeError, ValueError):
            raise RunInputError("%s: %s[%d] is %r, expected [step, value]" % (path, key, i, row))
        out.append((step, value))
    return out


def _apply_json_context(run, obj):
    """Fill batch size, log interval, warm-up and the recorder's ms/step from a results JSON."""
    for attr, key in (("batch_size", "batch_size"), ("log_every", "log_every"),
                      ("skip_steps", "timing_skipped_steps")):
        value = obj.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            setattr(run, attr, int(value))
    ms = obj.get("ms_per_step")
    if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms > 0:
        run.json_ms_per_step = float(ms)
    if isinstance(obj.get("fingerprint"), dict):
        run.fingerprint = obj["fingerprint"]
    metric = obj.get("precision_metric")
    if isinstance(metric, dict) and isinstance(metric.get("value"), (int, float)):
        run.precision = metric


def load_results_json(path, obj=None):
    obj = _load_json_dict(path) if obj is None else obj
    history = _pairs(obj, "loss_history", path)
    if history is None:
        raise RunInputError("%s has no 'loss_history' (not a results JSON of common.results?)" % path)
    if not history:
        raise RunInputError("%s: 'loss_history' is empty (no step was logged)" % path)
    run = Run(path)
    run.files.append(path)
    every_step = _pairs(obj, "loss_every_step", path)
    if every_step:
        # the recorder keeps every step's loss, not only the logged ones: judge on all of them
        run.fmt = "results JSON loss_every_step (every step run; %d of them logged)" % len(history)
        _set_loss(run, every_step, path)
    else:
        run.fmt = "results JSON loss_history (logged steps only)"
        _set_loss(run, history, path)
    _apply_json_context(run, obj)
    times = _pairs(obj, "step_time_ms", path)
    if times:
        run.timing = [TimingObs(s, "ms", v, window=1) for s, v in sorted(times)]
        run.timing_from = "step_time_ms of the results JSON (host wall time of each step)"
    elif run.json_ms_per_step is not None:
        run.timing_from = "ms_per_step of the results JSON"
    return run


def _is_results_json(path):
    try:
        obj = _load_json_dict(path)
    except RunInputError:
        return None
    return obj if "loss_history" in obj else None


def _results_json_beside(path):
    """The results JSON in the folder of `path` (a log or loss file), or None; notes on ambiguity."""
    folder = os.path.dirname(os.path.abspath(path))
    found = []
    for cand in sorted(glob.glob(os.path.join(folder, "*.json"))):
        obj = _is_results_json(cand)
        if obj is not None:
            found.append((cand, obj))
    if len(found) == 1:
        return found[0]
    return None if not found else ("ambiguous", [c for c, _ in found])


# --------------------------------------------------------------------------- loss.txt

def load_loss_txt(path, loss_every=None):
    text = _read_text(path)
    values = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _NUM_RE.match(line)
        if not m:
            raise RunInputError("%s line %d: expected one loss value per line, got %r"
                                % (path, lineno, line.strip()[:60]))
        values.append(_num(m.group(1)))
    if not values:
        raise RunInputError("%s is empty" % path)
    run = Run(path)
    run.files.append(path)
    first, every, how = 0, 1, "default 1"
    if loss_every:
        every, how = int(loss_every), "--loss_every"
    beside = _results_json_beside(path)
    if isinstance(beside, tuple) and beside[0] == "ambiguous":
        run.notes.append("%s: several results JSONs beside it (%s); used none"
                         % (os.path.basename(path), ", ".join(os.path.basename(b) for b in beside[1])))
    elif beside is not None:
        jpath, obj = beside
        _apply_json_context(run, obj)
        run.files.append(jpath)
        history = _pairs(obj, "loss_history", jpath) or []
        if run.json_ms_per_step is not None:
            run.timing_from = "ms_per_step of %s" % os.path.basename(jpath)
        if not loss_every and len(history) == len(values):
            # the same run's logged steps (the last step is logged even off the interval)
            run.fmt = "loss file, steps from loss_history of %s" % os.path.basename(jpath)
            _set_loss(run, [(s, v) for (s, _), v in zip(history, values)], path)
            return run
        if history:
            first = history[0][0]
        if not loss_every and run.log_every:
            every, how = run.log_every, "log_every of %s" % os.path.basename(jpath)
    run.fmt = "loss file, step = %d + index x %d (%s)" % (first, every, how)
    _set_loss(run, [(first + i * every, v) for i, v in enumerate(values)], path)
    return run


# --------------------------------------------------------------------------- folders and dispatch

def _find_in_dir(folder):
    def walk(patterns):
        hits = []
        for depth in ("", "*", os.path.join("*", "*")):
            for pat in patterns:
                hits += sorted(glob.glob(os.path.join(folder, depth, pat)))
            if hits:
                return hits
        return hits

    jsons = [p for p in walk(["*.json"]) if _is_results_json(p) is not None]
    if len(jsons) > 1:
        raise RunInputError("%s holds several results JSONs (%s); pass one of them"
                            % (folder, ", ".join(os.path.relpath(p, folder) for p in jsons)))
    if jsons:
        return jsons[0]
    for patterns in (["train_*.log"], ["train_*_loss.txt"], ["*.log"]):
        hits = walk(patterns)
        if patterns == ["*.log"]:
            hits = [p for p in hits if _looks_like_training_log(p)]
        if len(hits) > 1:
            raise RunInputError("%s holds several %s files (%s); pass one of them"
                                % (folder, patterns[0], ", ".join(os.path.relpath(p, folder) for p in hits)))
        if hits:
            return hits[0]
    raise RunInputError("%s: no results JSON, train_*.log, train_*_loss.txt or training log found" % folder)


def _looks_like_training_log(path):
    try:
        parse_log_text(_read_text(path), source=path)
        return True
    except RunInputError:
        return False


def load_run(path, loss_every=None, loss_key="loss"):
    """Load one run from a folder, a log, a loss file or a results JSON (see the module docstring)."""
    if not path:
        raise RunInputError("no path given")
    if not os.path.exists(path):
        raise RunInputError("%s: no such file or directory" % path)
    original = path
    if os.path.isdir(path):
        path = _find_in_dir(path)
    if path.endswith(".json"):
        run = load_results_json(path)
    elif _starts_like_json(path):  # e.g. results_perf.json.prev, the previous run kept by delivery.sh
        try:
            obj = _load_json_dict(path)
        except RunInputError:
            obj = None
        run = load_results_json(path, obj) if obj is not None else _load_log(path, loss_key)
    elif path.endswith("_loss.txt") or _looks_like_loss_txt(path):
        run = load_loss_txt(path, loss_every=loss_every)
    else:
        run = _load_log(path, loss_key)
    run.source = original
    return run


def _load_log(path, loss_key):
    run = parse_log_text(_read_text(path), loss_key=loss_key, source=path)
    run.files.append(path)
    beside = _results_json_beside(path)
    if isinstance(beside, tuple) and beside[0] == "ambiguous":
        run.notes.append("%s: several results JSONs beside it (%s); took no batch size or warm-up from them"
                         % (os.path.basename(path), ", ".join(os.path.basename(b) for b in beside[1])))
    elif beside is not None:
        _apply_json_context(run, beside[1])
        run.files.append(beside[0])
        if beside[1].get("loss_every_step"):
            run.notes.append("%s holds every step's loss, the log only the logged steps: pass it (or the "
                             "folder) for a verdict on every step" % os.path.basename(beside[0]))
    return run


def _starts_like_json(path):
    try:
        with open(path, "rb") as f:
            return f.read(4096).lstrip()[:1] == b"{"
    except OSError:
        return False


def _looks_like_loss_txt(path):
    """A file whose non-empty lines are all plain numbers (a loss file under another name)."""
    try:
        text = _read_text(path)
    except RunInputError:
        return False
    lines = [l for l in text.splitlines() if l.strip()]
    return bool(lines) and all(_NUM_RE.match(l) for l in lines)


# --------------------------------------------------------------------------- timing

def mean_step_time(run, skip_steps=None, batch_size=None):
    """Mean ms/step of a run, warm-up excluded.

    Returns a dict: ms (float or None), n (observations used), skip (warm-up steps applied),
    from (where the number came from, in words), why (reason when ms is None).

    Warm-up: steps first..first+skip-1 are excluded (first = the run's first logged step). A per-step
    time is dropped when its step is a warm-up step; an interval measurement logged at step s covers
    the steps after the previous measurement up to s and is dropped when that interval touches a
    warm-up step (the first interval always does when skip > 0).
    """
    skip = run.skip_steps if skip_steps is None else int(skip_steps)
    if skip is None:
        skip = 1  # no JSON and no flag: the first step builds and compiles the graph
    bs = batch_size if batch_size else run.batch_size
    res = {"ms": None, "n": 0, "skip": skip, "from": run.timing_from, "why": None}
    if not run.timing:
        if run.json_ms_per_step is not None:
            res["ms"] = run.json_ms_per_step
            res["from"] = run.timing_from
            res["why"] = "warm-up as excluded by the recorder (step times not in the input)"
            return res
        res["why"] = "no timing information in the input"
        return res
    obs = sorted(run.timing, key=lambda o: o.step)
    first = min([obs[0].step] + ([run.steps[0]] if run.steps else []))
    warm_end = first + skip          # steps < warm_end are warm-up
    kept, prev = [], None
    for o in obs:
        start = (o.step - o.window + 1) if o.window else (prev + 1 if prev is not None else first)
        prev = o.step
        if start < warm_end:
            continue
        kept.append(o)
    if not kept:
        res["why"] = ("all %d timing measurements fall within the %d warm-up step(s); try --skip_steps=0"
                      % (len(obs), skip))
        return res
    values = []
    for o in kept:
        if o.kind == "ms":
            values.append(o.value)
        elif o.kind == "steps/sec":
            if o.value > 0:
                values.append(1000.0 / o.value)
        elif o.kind == "examples/sec":
            if not bs:
                res["why"] = "throughput is logged as %s; ms/step needs the batch size (--batch_size)" % (
                    run.timing_from.split(" in ")[0])
                return res
            if o.value > 0:
                values.append(1000.0 * bs / o.value)
    values = [v for v in values if math.isfinite(v)]
    if not values:
        res["why"] = "no usable timing measurement after warm-up"
        return res
    res["ms"] = sum(values) / len(values)
    res["n"] = len(values)
    if any(o.kind == "examples/sec" for o in kept):
        res["from"] = "%s (batch size %d)" % (run.timing_from, bs)
    return res
