"""Compare two training runs (e.g. GPU vs NPU, fp32 vs mixed precision): loss table, timing, verdict.

    python -m common.compare --base=<run A>[,<run A2>,...] --test=<run B>[,...] [--base_label=GPU --test_label=NPU]
                             [--steps=0,100,200 | --every=N] [--rtol=0.05] [--window=10]
                             [--min_points=10] [--plot=curves.png]

from the repository root (`common` must be importable); from any other folder run the file itself,
`python <repo>/common/compare.py ...`.

A run is a results JSON, a training log, a train_<CaseName>_loss.txt or an output folder holding
one of them (see common/loss_log.py for the formats). A results JSON's `loss_every_step` (every
step run) is used when present, else its logged steps. The report is Markdown on stdout:

* the loss table at the chosen steps with the absolute (test - base) and relative ((test - base) /
  |base|) difference, and the relative difference of the smoothed losses the verdict uses; a step
  that one run lacks is shown as `missing`, and all missing steps are counted below the table;
* mean ms/step of each run with the warm-up steps excluded, and `TEST/BASE=X/Y`;
* the verdict;

and before all of it, "differences between the runs" from the two results JSONs' fingerprints
(common/fingerprint.py: precision, flags, seed, data read, checkpoint, versions, environment), so
a configuration difference is ruled out before any loss is read. Several runs per side
(`--base=R1,R2,R3`, e.g. seeds) are compared on their mean, and a section gives each side's mean
and standard deviation per step and for the final metric, and whether the sides differ by more
than 2 standard errors: small tasks vary a lot from seed to seed (MRPC 84-88 %), so a difference
within that spread says nothing about the backend.

Verdict: both curves are smoothed by a trailing mean over `--window` consecutive common steps
(the first value at the window-th common step; a run with fewer common steps than the window is
judged on the means of all of them); the run passes when at every smoothed step
|smoothed test - smoothed base| <= atol + rtol x |smoothed base| (numpy.isclose's rule) and no
common loss is NaN/inf. The verdict line says how many common steps it rests on; with fewer than
`--min_points` (default 10) there is no verdict: the report ends "NO VERDICT: ..." and the exit
status is 3 (a NaN/inf common loss is a FAIL however few the steps). Default rtol 0.05, window 10
-- see `--help` and the comparison section of the top-level README.md for why.

Exit status: 0 pass, 1 the verdict failed, 2 an input or usage problem (one line on stderr),
3 no verdict (too few common steps).
Nothing here needs TensorFlow; matplotlib is imported only for --plot.
"""

import argparse
import math
import os
import sys

try:  # `python -m common.compare` and `python common/compare.py` both work
    from common.loss_log import RunInputError, load_run, mean_step_time
except ImportError:  # pragma: no cover - run as a script from inside common/
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from common.loss_log import RunInputError, load_run, mean_step_time
from common import fingerprint

DEFAULT_RTOL = 0.05
DEFAULT_WINDOW = 10
DEFAULT_ROWS = 11
# fewer common steps than this and a verdict would rest on a handful of minibatch losses (the
# default window's worth: below it there is nothing left to smooth)
DEFAULT_MIN_POINTS = 10

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_NO_VERDICT = 0, 1, 2, 3

RTOL_HELP = (
    "relative tolerance of the verdict (default %(default)s = 5%%). Why 5%%: runs of one model from one "
    "seed and data order in two precisions round differently at every op (bf16 keeps 8 significant bits, "
    "fp16 11, fp32 24) and drift apart slowly, while a run that trains differently leaves that band. "
    "Measured here on Bert_base (tiny config, 300 steps, see the comparison section of README.md), max smoothed difference "
    "from the fp32 run: fp32 rerun 0.00%%, bf16 AMP 0.13%%; learning rate x3 9.9%%, learning rate /3 "
    "45.5%%, another seed (init and data order) 6.8%%. 5%% sits well above precision noise and below "
    "those; tighten it for short runs from one checkpoint, loosen it for very long runs.")
WINDOW_HELP = (
    "number of consecutive common steps in the trailing mean the verdict compares (default "
    "%(default)s). A logged loss is one minibatch's: once two trajectories differ slightly, the same "
    "batch gives losses further apart than the curves are (fp32 vs bf16 AMP above: up to 0.67%% per "
    "step, 0.13%% smoothed), so a tolerance on single steps is either flaky or blind. 10 points cut that "
    "noise about 3x (sqrt 10) while a real divergence, which persists, still shows within 10 logged "
    "steps. --window=1 compares raw losses.")


# --------------------------------------------------------------------------- computations

def smooth(values, window):
    """Trailing mean over `window` points; None until `window` points exist. NaN/inf propagate."""
    out = []
    for i in range(len(values)):
        out.append(sum(values[i + 1 - window:i + 1]) / window if i + 1 >= window else None)
    return out


def rel_diff(base, test):
    if base is None or test is None:
        return None
    if base == 0:
        return 0.0 if test == 0 else float("inf")
    return (test - base) / abs(base)


def compare_runs(base, test, window=DEFAULT_WINDOW, rtol=DEFAULT_RTOL, atol=0.0, min_points=DEFAULT_MIN_POINTS):
    """Everything the report needs, as plain data (used by the tests too).

    `verdict` is "PASS", "FAIL" or "NO VERDICT" (fewer than `min_points` common steps); `passed`
    is True, False or None accordingly."""
    common = sorted(set(base.loss) & set(test.loss))
    only_base = sorted(set(base.loss) - set(test.loss))
    only_test = sorted(set(test.loss) - set(base.loss))
    # a run shorter than the window is compared on the mean of all its common steps
    window = max(1, min(window, len(common)))
    sb = smooth([base.loss[s] for s in common], window)
    st = smooth([test.loss[s] for s in common], window)
    smoothed = dict((s, (b, t)) for s, b, t in zip(common, sb, st) if b is not None)
    worst, worst_step, bad_steps, nonfinite = 0.0, None, [], []
    for s in common:
        if not (math.isfinite(base.loss[s]) and math.isfinite(test.loss[s])):
            nonfinite.append(s)
            continue
        if s not in smoothed:
            continue
        b, t = smoothed[s]
        r = abs(t - b) / abs(b) if b else (0.0 if t == b else float("inf"))
        if worst_step is None or r > worst:
            worst, worst_step = r, s
        if abs(t - b) > atol + rtol * abs(b):
            bad_steps.append(s)
    if nonfinite:
        passed, reason = False, "non-finite loss at %d common step(s), first at step %d (of %d common steps)" % (
            len(nonfinite), nonfinite[0], len(common))
    elif len(common) < min_points:
        passed = None
        reason = ("no step is in both runs" if not common else "only %d common step(s)" % len(common)) + (
            ", fewer than the %d a verdict needs (--min_points); compare runs that record more steps "
            "(a results JSON keeps every step's loss) or lower --min_points" % min_points)
    elif bad_steps:
        passed, reason = False, (
            "smoothed loss differs by more than %s at %d of %d common steps (first at step %d); "
            "max %.2f%% at step %d" % (_tol_words(rtol, atol), len(bad_steps), len(common), bad_steps[0],
                                       100 * worst, worst_step))
    else:
        passed, reason = True, "max smoothed relative difference %.2f%% at step %d, within %s over %d " \
                               "common steps" % (100 * worst, worst_step, _tol_words(rtol, atol), len(common))
    verdict = {True: "PASS", False: "FAIL", None: "NO VERDICT"}[passed]
    return {"common": common, "window": window, "only_base": only_base, "only_test": only_test, "smoothed": smoothed,
            "max_rel": worst if worst_step is not None else None, "max_rel_step": worst_step,
            "bad_steps": bad_steps, "nonfinite": nonfinite, "passed": passed, "verdict": verdict,
            "min_points": min_points, "reason": reason}


def _tol_words(rtol, atol):
    return "rtol %.2f%%" % (100 * rtol) + (" + atol %g" % atol if atol else "")


def select_steps(base, test, steps=None, every=None, rows=DEFAULT_ROWS):
    """The table's steps: --steps as given, --every N (every N-th step counted from the first step
    of either run, plus the last step; a step neither run has is left out, see `unrecorded_steps`),
    or by default ~`rows` steps spread evenly over all steps (first and last included)."""
    union = sorted(set(base.loss) | set(test.loss))
    if steps:
        return list(steps)
    if not union:
        return []
    if every:
        picked = [s for s in union if (s - union[0]) % every == 0]
        return picked if picked[-1] == union[-1] else picked + [union[-1]]
    if len(union) <= rows:
        return union
    idx = sorted(set(int(round(i * (len(union) - 1) / float(rows - 1))) for i in range(rows)))
    return [union[i] for i in idx]


# --------------------------------------------------------------------------- formatting

def unrecorded_steps(base, test, every):
    """The steps --every asks for (first, first+N, ..., up to the last step) that neither run has."""
    union = set(base.loss) | set(test.loss)
    if not union or not every:
        return []
    return [s for s in range(min(union), max(union) + 1, every) if s not in union]


def _fmt_loss(v):
    if v is None:
        return "missing"
    if not math.isfinite(v):
        return str(v)
    return "%.6f" % v


def _fmt_signed(v, pct=False):
    if v is None:
        return "-"
    if not math.isfinite(v):
        return str(v)
    return ("%+.2f%%" % (100 * v)) if pct else ("%+.6f" % v)


def loss_table(base, test, steps, result, base_label, test_label):
    head = ["step", "%s loss" % base_label, "%s loss" % test_label, "abs diff (%s-%s)" % (test_label, base_label),
            "rel diff", "smoothed rel diff"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for s in steps:
        b, t = base.loss.get(s), test.loss.get(s)
        diff = (t - b) if (b is not None and t is not None) else None
        sm = result["smoothed"].get(s)
        lines.append("| %s |" % " | ".join([
            str(s), _fmt_loss(b), _fmt_loss(t), _fmt_signed(diff), _fmt_signed(rel_diff(b, t), pct=True),
            _fmt_signed(rel_diff(*sm), pct=True) if sm else "-"]))
    return lines


def _step_list(steps, limit=8):
    shown = ", ".join(str(s) for s in steps[:limit])
    return shown + (", ... (%d in all)" % len(steps) if len(steps) > limit else "")


def _fmt_ms(ms):
    return "%.3f" % ms


def timing_lines(base, test, base_label, test_label, skip_steps=None, batch_size=None):
    tb = mean_step_time(base, skip_steps=skip_steps, batch_size=batch_size)
    tt = mean_step_time(test, skip_steps=skip_steps, batch_size=batch_size)
    lines = []
    for label, t in ((base_label, tb), (test_label, tt)):
        if t["ms"] is None:
            lines.append("- %s: n/a (%s)" % (label, t["why"]))
        elif t["n"]:
            lines.append("- %s: %s ms/step, mean of %d measurement(s) after %d warm-up step(s); from %s"
                         % (label, _fmt_ms(t["ms"]), t["n"], t["skip"], t["from"]))
        else:
            lines.append("- %s: %s ms/step, %s; from %s" % (label, _fmt_ms(t["ms"]), t["why"], t["from"]))
    if tb["ms"] and tt["ms"]:
        ratio = "%s/%s=%s/%s" % (test_label, base_label, _fmt_ms(tt["ms"]), _fmt_ms(tb["ms"]))
        lines.append("")
        lines.append("%s (%s is %.2fx the time per step of %s)" % (ratio, test_label, tt["ms"] / tb["ms"],
                                                                  base_label))
    return lines, tb, tt


MAX_DIFFERENCE_ROWS = 40


# --------------------------------------------------------------------------- several seeds per side

def split_runs(arg):
    """`--base=R1,R2,R3`: several runs (e.g. seeds) of one side; a single path may hold commas."""
    if os.path.exists(arg) or "," not in arg:
        return [arg]
    return [p for p in arg.split(",") if p]


def mean_run(runs, label):
    """One Run whose loss at each step is the mean over `runs` (the steps all of them have)."""
    if len(runs) == 1:
        return runs[0]
    steps = sorted(set.intersection(*(set(r.loss) for r in runs)))
    if not steps:
        raise RunInputError("the %d %s runs share no step" % (len(runs), label))
    mean = runs[0].__class__(",".join(r.source for r in runs))
    for attr in ("timing", "timing_from", "skip_steps", "batch_size", "log_every", "json_ms_per_step",
                 "fingerprint"):
        setattr(mean, attr, getattr(runs[0], attr))
    for step in steps:
        mean.loss[step] = sum(r.loss[step] for r in runs) / len(runs)
    mean.fmt = "mean over %d runs of %s" % (len(runs), runs[0].fmt)
    mean.members = runs
    mean.files = [f for r in runs for f in r.files]
    values = [r.precision["value"] for r in runs if r.precision]
    if len(values) == len(runs):
        mean.precision = {"name": runs[0].precision["name"], "value": sum(values) / len(values)}
    return mean


def _stats(values):
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return mean, sd


def beyond_spread(base_values, test_values, z=2.0):
    """(mean base, sd base, mean test, sd test, |difference| / its standard error, exceeds?): the
    sides differ beyond what reruns explain when the difference of the means is more than `z`
    standard errors (Welch's; a side with one run borrows the other side's spread). None without
    a spread on either side."""
    mb, sb = _stats(base_values)
    mt, st = _stats(test_values)
    if sb is None and st is None:
        return mb, sb, mt, st, None, None
    sb = st if sb is None else sb
    st = sb if st is None else st
    se = math.sqrt(sb ** 2 / len(base_values) + st ** 2 / len(test_values))
    ratio = abs(mt - mb) / se if se > 0 else (0.0 if mt == mb else math.inf)
    return mb, sb, mt, st, ratio, ratio > z


def _fmt_sd(sd):
    return "-" if sd is None else "%.4g" % sd


def spread_lines(base, test, steps, base_label, test_label):
    """The seed-to-seed section: per step and for the final metric, each side's mean and spread and
    whether the sides differ beyond it."""
    bruns = base.members or [base]
    truns = test.members or [test]
    out = ["### Seed-to-seed spread (%d %s runs, %d %s runs)" % (len(bruns), base_label, len(truns),
                                                                    test_label), "",
           "| step | %s mean | %s sd | %s mean | %s sd | diff / std error | beyond the spread |"
           % (base_label, base_label, test_label, test_label), "|---:|---:|---:|---:|---:|---:|---|"]
    exceed = []
    for step in steps:
        bv = [r.loss[step] for r in bruns if step in r.loss]
        tv = [r.loss[step] for r in truns if step in r.loss]
        if not bv or not tv:
            continue
        mb, sb, mt, st, ratio, beyond = beyond_spread(bv, tv)
        out.append("| %d | %.6f | %s | %.6f | %s | %s | %s |" % (
            step, mb, _fmt_sd(sb), mt, _fmt_sd(st), "-" if ratio is None else "%.2f" % ratio,
            "-" if beyond is None else ("**yes**" if beyond else "no")))
        if beyond:
            exceed.append(step)
    bp = [r.precision["value"] for r in bruns if r.precision]
    tp = [r.precision["value"] for r in truns if r.precision]
    out.append("")
    if len(bp) == len(bruns) and len(tp) == len(truns):
        mb, sb, mt, st, ratio, beyond = beyond_spread(bp, tp)
        name = (bruns[0].precision or {}).get("name", "metric")
        out.append("Final %s: %s %.4f (sd %s), %s %.4f (sd %s)%s." % (
            name, base_label, mb, _fmt_sd(sb), test_label, mt, _fmt_sd(st),
            "" if beyond is None else "; the difference is %.2f standard errors: %s" % (
                ratio, "BEYOND the seed-to-seed spread" if beyond else "within the seed-to-seed spread")))
    else:
        out.append("Final metric: not in every run's results JSON.")
    out.append("Steps where the means differ by more than 2 standard errors: %s." % (
        _step_list(exceed) if exceed else "none"))
    return out


def _fmt_value(value, limit=60):
    text = "%s" % (value,)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def difference_lines(base, test, base_label, test_label):
    """The "differences between the runs" section: what the fingerprints say differs, in the order
    to rule it out (precision, hyper-parameters, seed, data, checkpoint, versions, ...)."""
    out = ["### Differences between the runs", ""]
    missing = [label for label, run in ((base_label, base), (test_label, test)) if not run.fingerprint]
    if missing:
        out.append("Not known: %s has no fingerprint (give its results JSON or output folder; a log "
                   "alone does not carry one)." % " and ".join(missing))
        return out
    rows = fingerprint.differences(base.fingerprint, test.fingerprint)
    decisive = [r for r in rows if r[0] not in ("harness", "environment", "device")]
    if not rows:
        out.append("None: same precision, flags, seed, data, checkpoint, versions and environment.")
        return out
    out.append("| what | %s | %s |" % (base_label, test_label))
    out.append("|---|---|---|")
    for section, key, a, b in rows[:MAX_DIFFERENCE_ROWS]:
        out.append("| %s: %s | %s | %s |" % (section, key, _fmt_value(a), _fmt_value(b)))
    if len(rows) > MAX_DIFFERENCE_ROWS:
        out.append("")
        out.append("... and %d more (see the fingerprints in the results JSONs)."
                   % (len(rows) - MAX_DIFFERENCE_ROWS))
    out.append("")
    out.append("%d difference(s), %d in precision, hyper-parameters, seed, data, checkpoint or "
               "versions." % (len(rows), len(decisive)))
    return out


def report(base, test, args):
    result = compare_runs(base, test, window=args.window, rtol=args.rtol, atol=args.atol,
                          min_points=args.min_points)
    steps = select_steps(base, test, steps=args.steps, every=args.every)
    bl, tl = args.base_label, args.test_label
    out = difference_lines(base, test, bl, tl) + ["", "### Loss: %s vs %s" % (tl, bl), ""]
    for label, run in ((bl, base), (tl, test)):
        out.append("- %s: `%s` - %s" % (label, run.source, run.describe()))
    out.append("")
    out += loss_table(base, test, steps, result, bl, tl)
    out.append("")
    out.append("Common steps: %d. Steps only in %s: %s. Steps only in %s: %s." % (
        len(result["common"]), bl, _step_list(result["only_base"]) if result["only_base"] else "none",
        tl, _step_list(result["only_test"]) if result["only_test"] else "none"))
    notes = base.notes + test.notes
    missing = unrecorded_steps(base, test, args.every)
    if missing:
        notes.append("--every=%d asks for %d step(s) that neither run recorded (%s); the table shows the "
                     "%d recorded ones" % (args.every, len(missing), _step_list(missing), len(steps)))
    for n in notes:
        out.append("Note: %s" % n)
    if base.members or test.members:
        out += [""] + spread_lines(base, test, steps, bl, tl)
    out += ["", "### Time per step (warm-up excluded)", ""]
    tlines, tb, tt = timing_lines(base, test, bl, tl, skip_steps=args.skip_steps, batch_size=args.batch_size)
    out += tlines
    out += ["", "### Verdict", "",
            "%s: %s (smoothing: trailing mean over %d common steps)." % (
                result["verdict"], result["reason"], result["window"])]
    return "\n".join(out) + "\n", result


# --------------------------------------------------------------------------- plot

def plot(base, test, result, path, base_label, test_label, rtol, window):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5.2), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 2]})
    for run, label, color in ((base, base_label, "tab:blue"), (test, test_label, "tab:orange")):
        xs = list(run.loss.keys())
        ax1.plot(xs, list(run.loss.values()), color=color, alpha=0.35, linewidth=0.8,
                 label="%s (per step)" % label)
    common = result["common"]
    if common:
        # both panels draw the trailing means the verdict compares, each at the last step of its
        # window (so they lag the raw curve by window/2 steps, the same in both panels)
        full = [s for s in common if s in result["smoothed"]]
        ax1.plot(full, [result["smoothed"][s][0] for s in full], color="tab:blue",
                 linewidth=1.6, label="%s (trailing mean of %d steps)" % (base_label, result["window"]))
        ax1.plot(full, [result["smoothed"][s][1] for s in full], color="tab:orange",
                 linewidth=1.6, linestyle="--", label="%s (trailing mean of %d steps)" % (
                     test_label, result["window"]))
        raw = [rel_diff(base.loss[s], test.loss[s]) for s in common]
        sm = [rel_diff(*result["smoothed"][s]) for s in full]
        ax2.plot(common, [100 * r for r in raw], color="0.6", linewidth=0.8, label="per step")
        ax2.plot(full, [100 * r for r in sm], color="tab:red", linewidth=1.6, label="smoothed (trailing mean)")
        finite = [abs(100 * r) for r in raw + sm if r is not None and math.isfinite(r)]
        span = max(finite) if finite else 0.0
        if 100 * rtol <= 3 * span or not span:  # the band in view unless it would flatten the curves
            ax2.axhspan(-100 * rtol, 100 * rtol, color="tab:green", alpha=0.12,
                        label="rtol +-%g%%" % (100 * rtol))
        else:
            ax2.set_ylim(-1.2 * span, 1.2 * span)
            ax2.text(0.01, 0.04, "rtol +-%g%% is off this scale" % (100 * rtol), transform=ax2.transAxes,
                     fontsize=8, color="tab:green")
    ax1.set_ylabel("loss")
    ax1.set_title("%s vs %s: %s" % (test_label, base_label, result["verdict"]))
    ax1.legend(fontsize=8, loc="best")
    ax1.grid(alpha=0.3)
    ax2.axhline(0, color="black", linewidth=0.6)
    ax2.set_ylabel("(%s-%s)/|%s| %%" % (test_label, base_label, base_label))
    ax2.set_xlabel("step")
    ax2.legend(fontsize=8, loc="best")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    if not os.path.getsize(path):
        raise RunInputError("the plot %s came out empty" % path)


# --------------------------------------------------------------------------- CLI

def _steps_arg(text):
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated step numbers, e.g. 0,100,200; got %r" % text)
    if not steps or any(s < 0 for s in steps):
        raise argparse.ArgumentTypeError("expected non-negative step numbers, got %r" % text)
    return steps


def _number(kind, minimum, expected):
    """An argparse type: `kind(text)`, finite and >= minimum, else 'expected <expected>'."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError("expected %s, got %r" % (expected, text))
        return value
    return parse


_positive_int = _number(int, 1, "a positive integer")
_nonneg_int = _number(int, 0, "an integer >= 0")
_nonneg_float = _number(float, 0, "a finite number >= 0")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own prints the whole usage)
        self.exit(EXIT_USAGE, "%s: error: %s (see --help)\n" % (self.prog, message))


def build_parser():
    p = _Parser(prog="python -m common.compare",
                description="Compare the loss curves and step times of two runs; Markdown on stdout; "
                            "exit 0 pass, 1 verdict failed, 2 bad input, 3 no verdict (fewer common "
                            "steps than --min_points). Run it from the repository root, or as "
                            "`python <repo>/common/compare.py` from anywhere.",
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="A run is a results JSON, a training log (common hook, TF Estimator, ResNext50 or "
                       "XLNet step lines), a train_<CaseName>_loss.txt or an output folder holding one.")
    p.add_argument("--base", required=True, help="the reference run (e.g. the GPU or fp32 run); "
                   "several runs (seeds) as R1,R2,R3: the table and verdict use their mean and a "
                   "section shows each side's seed-to-seed spread")
    p.add_argument("--test", required=True, help="the run under test (e.g. the NPU or mixed-precision "
                   "run); several as for --base")
    p.add_argument("--base_label", default="base", help="name of the reference run in the report (e.g. GPU)")
    p.add_argument("--test_label", default="test", help="name of the run under test (e.g. NPU)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--steps", type=_steps_arg, help="table rows at these steps, e.g. 0,100,200")
    g.add_argument("--every", type=_positive_int,
                   help="table rows every N steps, counted from the first step, and the last step (a note "
                        "counts the steps asked for that neither run recorded)")
    p.add_argument("--rtol", type=_nonneg_float, default=DEFAULT_RTOL, help=RTOL_HELP)
    p.add_argument("--atol", type=_nonneg_float, default=0.0,
                   help="absolute tolerance added to rtol x |base| (default 0); set it when the loss "
                        "approaches 0, where a relative difference means little")
    p.add_argument("--window", type=_positive_int, default=DEFAULT_WINDOW, help=WINDOW_HELP)
    p.add_argument("--min_points", type=_positive_int, default=DEFAULT_MIN_POINTS,
                   help="fewest common steps a verdict may rest on (default %(default)s); below it the report "
                        "ends NO VERDICT and the exit status is 3")
    p.add_argument("--skip_steps", type=_nonneg_int, default=None,
                   help="warm-up steps excluded from ms/step (default: the results JSON's "
                        "timing_skipped_steps, else 1: the first step builds and compiles the graph)")
    p.add_argument("--batch_size", type=_positive_int, default=None,
                   help="batch size, to turn examples/sec or FPS of a log into ms/step when no results "
                        "JSON gives it")
    p.add_argument("--loss_every", type=_positive_int, default=None,
                   help="steps between two lines of a *_loss.txt (default: log_every of a results JSON "
                        "beside it, else 1)")
    p.add_argument("--loss_key", default="loss",
                   help="which field is the loss in 'key = value' / 'key: value' step lines (default "
                        "loss; e.g. total_loss for ResNext50)")
    p.add_argument("--plot", default=None, help="write both loss curves and their relative difference here "
                                                "(PNG; matplotlib, Agg backend)")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = parser.prog
    try:
        runs = []
        for which in ("base", "test"):
            try:
                side = [load_run(p, loss_every=args.loss_every, loss_key=args.loss_key)
                        for p in split_runs(getattr(args, which))]
                runs.append(mean_run(side, which))
            except RunInputError as e:
                raise RunInputError("--%s: %s" % (which, e))
        text, result = report(runs[0], runs[1], args)
        sys.stdout.write(text)
        sys.stdout.flush()
        if args.plot:
            try:
                plot(runs[0], runs[1], result, args.plot, args.base_label, args.test_label, args.rtol,
                     args.window)
            except (OSError, ValueError) as e:
                raise RunInputError("cannot write the plot %s: %s" % (args.plot, e))
            print("\nPlot: %s" % args.plot)
    except RunInputError as e:
        sys.stderr.write("%s: error: %s\n" % (prog, e))
        return EXIT_USAGE
    return {True: EXIT_PASS, False: EXIT_FAIL, None: EXIT_NO_VERDICT}[result["passed"]]


if __name__ == "__main__":
    sys.exit(main())
