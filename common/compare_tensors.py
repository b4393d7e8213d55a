"""Compare two tensor dumps tensor by tensor and name the first one that diverges.

    python -m common.compare_tensors --base=DUMP_A --test=DUMP_B [--cosine_threshold=C]
        [--error_tolerance=E] [--filter=REGEX] [--ignore=REGEX] [--step=N] [--output_dir=DIR]
        [--rows=40]

A dump is a folder written by common/tensor_dump.py (`.../data_dump/step_N` with its index.json;
or `.../data_dump` with `--step`, or with a single step in it), or a folder of `.npy` files converted
from an Ascend dump by Ascend's own tool (`python3 <toolkit>/tools/operator_cmp/compare/
msaccucmp.py convert -d <dump dir> -out <npy dir>`, files named `<op type>.<op name>.<task>.<stream>.
<timestamp>.<input|output>.<index>[.<shape, e.g. 8x128>].npy`; the outputs are compared).

Tensors are matched by op name and output slot. Ascend dumps write an op name with `/` as `_`,
so a name without an exact match is matched on that normalised form; a tensor that only one side
has (mixed precision's inserted casts, fused or renamed ops) is listed as unmatched, never guessed.
For each matched pair, in the base run's execution order:

  cosine       similarity of the flattened values (1 = same direction; both all-zero counts as 1)
  max_abs      max |test - base|
  max_rel      max |test - base| / |base| over the elements with |base| >= 1e-3 max|base| (elements
               near zero make relative errors meaningless)
  err_range    max_abs / max|base|: the error against the tensor's own scale
  nan / inf    counts on each side; a shape mismatch is reported as such

A tensor DIVERGES when its shapes differ, it is non-finite on one side only, its cosine is below
--cosine_threshold, or its err_range is above --error_tolerance. The report names the first
divergent tensor in execution order and the layer it belongs to (the op-name scope up to its
`layer_N`, or the first two scopes; `gradients/...` is that layer's backward pass).

Thresholds follow the precision that ran: with 16-bit tensors (bfloat16 / float16) in either
dump, cosine 0.9 and error 1.0 of the range; with 32-bit ones only, cosine 0.999 and error 0.001.
Why, measured on Bert_base's tiny config at step 0, same seed, data and initial weights, dropout
off (README.md, "Where two runs diverge"): fp32 vs fp32 gives cosine 1 and error 0 on every
tensor; fp32 vs bf16 auto-mixed-precision leaves every tensor that is not rounding noise at
cosine >= 0.948 and error <= 0.77 of its range (the worst: Adam's first update m/sqrt(v), about
sign(g), of the tiniest gradients, and bf16 sums over 1024 tokens); a perturbed weight enters at
cosine 0.72, and gelu swapped for relu leaves the residual stream at cosine 0.99994 but error
0.012 of its range, 10x the fp32 tolerance and 10^5 x fp32's rounding. A GPU's TF32 matmuls
round like a 16-bit format: compare those runs with --cosine_threshold=0.9 --error_tolerance=1.

Writes the full table as CSV and a JSON summary into --output_dir (default: the test dump's folder),
each written under a temporary name and renamed. Exit status: 0 no divergence, 1 divergence,
2 an input or usage problem (one line on stderr). Needs numpy only.
"""
import argparse
import csv
import io
import json
import math
import os
import re
import sys

import numpy as np

try:
    from common import atomic_io
except ImportError:  # pragma: no cover - run as a script from inside common/
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from common import atomic_io
from common.compare import _Parser   # one-line usage errors, exit 2, as common.compare

# (cosine threshold, error tolerance) by the precision that ran; see the docstring.
THRESHOLDS = {"16-bit": (0.9, 1.0), "32-bit": (0.999, 1e-3)}
SIXTEEN_BIT = ("bfloat16", "float16")
DEFAULT_ROWS = 40
NEAR_ZERO = 1e-3
EXIT_SAME, EXIT_DIVERGED, EXIT_USAGE = 0, 1, 2
_ASCEND_NAME = re.compile(r"^(?P<type>[^.]+)\.(?P<op>.+)\.(?P<task>\d+)\.(?P<stream>\d+)\."
                          r"(?P<ts>\d+)\.(?P<io>input|output)\.(?P<index>\d+)(\.[0-9x]+)?\.npy$")


class DumpError(ValueError):
    """A dump folder that cannot be read; reported as one line."""


class Tensor:
    def __init__(self, op, slot, order, dtype, shape, loader, op_type="", inputs=()):
        self.op, self.slot, self.order = op, slot, order
        self.dtype, self.shape, self.op_type = dtype, shape, op_type
        self.inputs = list(inputs)     # "op:slot" of the float tensors the op reads, if known
        self._loader = loader
        self._max = None

    def value(self):
        return self._loader()

    def max_abs(self):
        if self._max is None:
            value = self.value().astype(np.float64)
            finite = value[np.isfinite(value)]
            self._max = float(np.abs(finite).max()) if finite.size else 0.0
        return self._max

    @property
    def name(self):
        return "%s:%d" % (self.op, self.slot)

    @property
    def key(self):
        return (self.op, self.slot)


def _npy_loader(path):
    return lambda: np.load(path)


def _resolve_dump_dir(path, step):
    if not os.path.isdir(path):
        raise DumpError("%s: no such folder" % path)
    if os.path.isfile(os.path.join(path, "index.json")):
        return path
    steps = sorted(d for d in os.listdir(path) if re.match(r"^step_\d+$", d)
                   and os.path.isfile(os.path.join(path, d, "index.json")))
    if step is not None:
        chosen = os.path.join(path, "step_%d" % step)
        if not os.path.isfile(os.path.join(chosen, "index.json")):
            raise DumpError("%s has no dump of step %d (has: %s)" % (path, step, ", ".join(steps) or "none"))
        return chosen
    if len(steps) == 1:
        return os.path.join(path, steps[0])
    if steps:
        raise DumpError("%s holds dumps of several steps (%s): pass --step" % (path, ", ".join(steps)))
    return path   # maybe an Ascend npy folder


def load_dump(path, step=None):
    """(folder, [Tensor] in execution order, kind) of a dump folder."""
    folder = _resolve_dump_dir(path, step)
    index_path = os.path.join(folder, "index.json")
    if os.path.isfile(index_path):
        try:
            with open(index_path) as f:
                index = json.load(f)
            entries = index["tensors"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DumpError("%s is not a tensor-dump index (%s)" % (index_path, exc))
        tensors = [Tensor(e["op"], int(e["slot"]), int(e["order"]), e.get("dtype", ""),
                          tuple(e.get("shape", ())), _npy_loader(os.path.join(folder, e["file"])),
                          e.get("op_type", ""), e.get("inputs", ())) for e in entries]
        return folder, sorted(tensors, key=lambda t: t.order), "tfdbg"
    found = []
    for name in os.listdir(folder):
        match = _ASCEND_NAME.match(name)
        if match and match.group("io") == "output":
            found.append((int(match.group("ts")), match.group("op"), int(match.group("index")),
                          match.group("type"), os.path.join(folder, name)))
    if not found:
        raise DumpError("%s holds neither an index.json (common/tensor_dump.py) nor Ascend .npy "
                        "files converted by msaccucmp.py" % folder)
    found.sort()
    tensors = [Tensor(op, slot, order, "", None, _npy_loader(p), op_type)
               for order, (_, op, slot, op_type, p) in enumerate(found)]
    return folder, tensors, "ascend npy"


def normalised(name):
    """The form Ascend's dump gives an op name: scopes joined by '_'."""
    return re.sub(r"[/.\-]", "_", name)


def match_tensors(base, test):
    """[(base Tensor, test Tensor)] in base order, [base only], [test only]."""
    exact = {t.key: t for t in test}
    loose = {}
    for t in test:
        loose.setdefault((normalised(t.op), t.slot), []).append(t)
    pairs, used = [], set()
    only_base = []
    for b in base:
        t = exact.get(b.key)
        if t is None:
            candidates = [c for c in loose.get((normalised(b.op), b.slot), []) if id(c) not in used]
            t = candidates[0] if len(candidates) == 1 else None
        if t is None or id(t) in used:
            only_base.append(b)
            continue
        used.add(id(t))
        pairs.append((b, t))
    only_test = [t for t in test if id(t) not in used]
    return pairs, only_base, only_test


def tensor_metrics(a, b):
    """Metrics of test b against base a (numpy arrays)."""
    out = {"shape_base": list(a.shape), "shape_test": list(b.shape),
           "nan_base": int(np.isnan(a).sum()) if a.dtype.kind == "f" else 0,
           "nan_test": int(np.isnan(b).sum()) if b.dtype.kind == "f" else 0,
           "inf_base": int(np.isinf(a).sum()) if a.dtype.kind == "f" else 0,
           "inf_test": int(np.isinf(b).sum()) if b.dtype.kind == "f" else 0}
    if a.shape != b.shape:
        out.update(cosine=None, max_abs=None, max_rel=None, err_range=None)
        return out
    x = a.astype(np.float64).ravel()
    y = b.astype(np.float64).ravel()
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if x.size == 0:
        out.update(cosine=None, max_abs=None, max_rel=None, err_range=None)
        return out
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 and ny == 0:
        cosine = 1.0
    elif nx == 0 or ny == 0:
        cosine = 0.0
    else:
        cosine = float(np.dot(x, y) / (nx * ny))
    diff = np.abs(y - x)
    scale = float(np.max(np.abs(x)))
    max_abs = float(diff.max())
    big = np.abs(x) >= NEAR_ZERO * scale if scale > 0 else np.zeros_like(x, dtype=bool)
    max_rel = float((diff[big] / np.abs(x[big])).max()) if big.any() else (0.0 if max_abs == 0 else None)
    err_range = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    out.update(cosine=cosine, max_abs=max_abs, max_rel=max_rel, err_range=err_range)
    return out


def divergence_reason(m, cosine_threshold, tolerance):
    """Why a pair diverges, or None."""
    if m["shape_base"] != m["shape_test"]:
        return "shape %s vs %s" % (m["shape_base"], m["shape_test"])
    bad_base = m["nan_base"] + m["inf_base"] > 0
    bad_test = m["nan_test"] + m["inf_test"] > 0
    if bad_base != bad_test:
        return "non-finite in %s only" % ("base" if bad_base else "test")
    if m["cosine"] is not None and m["cosine"] < cosine_threshold:
        return "cosine %.6f < %g" % (m["cosine"], cosine_threshold)
    if m["err_range"] is not None and m["err_range"] > tolerance:
        return "error %.4g of the tensor's range > %g" % (m["err_range"], tolerance)
    return None


def layer_of(op_name):
    """The layer an op belongs to: the scope up to its layer_N, else its first two scopes;
    'gradients/' marks the backward pass of that layer."""
    parts = op_name.split("/")
    backward = parts[0] == "gradients"
    if backward:
        parts = parts[1:]
    for i, part in enumerate(parts):
        if re.match(r"^layer_\d+$", part):
            scope = "/".join(parts[:i + 1])
            break
    else:
        scope = "/".join(parts[:2]) if len(parts) > 2 else "/".join(parts[:1])
    return scope + (" (backward)" if backward else "")


# Machine epsilon of the dtypes a dump holds: the rounding step of the less precise side sets
# the noise level of a result that cancels out (a sum of terms whose exact total is ~0).
EPS = {"bfloat16": 2.0 ** -8, "float16": 2.0 ** -10, "float32": 2.0 ** -23, "float64": 2.0 ** -52}
NOISE_FACTOR = 4.0


def _noise_level(b, t, base_by_name):
    """The rounding noise of b's op at the two runs' precisions: NOISE_FACTOR x eps x sqrt(terms
    summed per output element) x the largest input value; None when b's inputs are unknown."""
    inputs = [base_by_name[n] for n in b.inputs if n in base_by_name]
    if not inputs:
        return None
    size_out = max(1, int(np.prod(b.shape)) if b.shape is not None else b.value().size)
    terms = max(1.0, max(float(np.prod(i.shape)) if i.shape is not None else i.value().size
                         for i in inputs) / size_out)
    eps = max(EPS.get(b.dtype, EPS["float32"]), EPS.get(t.dtype, EPS["float32"]))
    return NOISE_FACTOR * eps * math.sqrt(terms) * max(i.max_abs() for i in inputs)


# What a tensor outside the thresholds is (the `status` column):
#   diverged       its inputs agree, it does not, and so do not the ops that read it: a divergence;
#                  the first of these in execution order is THE first divergence
#   inherited      an input diverged already: the divergence spreading, not a new one
#   noise          both sides are within the rounding noise of the op's inputs (a result that
#                  cancels to ~0, e.g. the gradient of the attention key bias): nothing to compare
#   noise-derived  computed from noise tensors only
# (Whether the ops that read a tensor agree says nothing: a residual connection dilutes a real
# divergence below the thresholds in the next op.)
STATUSES = ("ok", "diverged", "inherited", "noise", "noise-derived")


def classify(rows, pairs):
    """Sets row["status"] for every row (rows and pairs in the same base order)."""
    base_by_name = {b.name: b for b, _ in pairs}
    status = {}
    flagged = {b.name for (b, _), r in zip(pairs, rows) if r["reason"]}
    for (b, t), row in zip(pairs, rows):
        if not row["reason"]:
            status[b.name] = "ok"
        else:
            inputs = [status.get(n, "diverged" if n in flagged else "ok") for n in b.inputs]
            if any(s in ("diverged", "inherited") for s in inputs):
                status[b.name] = "inherited"
            else:
                level = _noise_level(b, t, base_by_name) if row["shape_base"] == row["shape_test"] \
                    and not (row["nan_base"] or row["inf_base"] or row["nan_test"] or row["inf_test"]) \
                    else None
                if level is not None and max(b.max_abs(), t.max_abs()) <= level:
                    status[b.name] = "noise"
                elif any(s in ("noise", "noise-derived") for s in inputs):
                    status[b.name] = "noise-derived"
                else:
                    status[b.name] = "diverged"
        row["status"] = status[b.name]


def precision_class(base, test):
    """"16-bit" when either dump holds bfloat16 / float16 tensors, else "32-bit"."""
    return "16-bit" if any(t.dtype in SIXTEEN_BIT for t in list(base) + list(test)) else "32-bit"


def compare_dumps(base, test, cosine_threshold=None, tolerance=None, name_filter=None, ignore=None):
    """The comparison of two tensor lists: rows in base order, the first divergence, unmatched.
    Thresholds left None follow the precision that ran (THRESHOLDS)."""
    kind = precision_class(base, test)
    if cosine_threshold is None:
        cosine_threshold = THRESHOLDS[kind][0]
    if tolerance is None:
        tolerance = THRESHOLDS[kind][1]
    pattern = re.compile(name_filter) if name_filter else None
    skip = re.compile(ignore) if ignore else None
    pairs, only_base, only_test = match_tensors(base, test)
    pairs = [(b, t) for b, t in pairs if (pattern is None or pattern.search(b.op))
             and (skip is None or not skip.search(b.op))]
    rows = []
    for b, t in pairs:
        m = tensor_metrics(b.value(), t.value())
        reason = divergence_reason(m, cosine_threshold, tolerance)
        row = {"order": b.order, "op": b.op, "slot": b.slot, "op_type": b.op_type,
               "dtype_base": b.dtype, "dtype_test": t.dtype, "reason": reason or ""}
        row.update(m)
        rows.append(row)
    classify(rows, pairs)
    for row in rows:
        row["diverged"] = row["status"] == "diverged"
    first = next((r for r in rows if r["diverged"]), None)
    unmatched = {x.name for x in only_base}
    first_pair = next((b for b, _ in pairs if first and b.op == first["op"] and b.slot == first["slot"]),
                      None)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in STATUSES}
    return {"rows": rows, "first_divergence": first,
            "layer": layer_of(first["op"]) if first else None,
            "first_divergence_unmatched_inputs": [n for n in first_pair.inputs if n in unmatched]
            if first_pair else [],
            "diverged": counts["diverged"], "status_counts": counts,
            "only_base": [b.name for b in only_base], "only_test": [t.name for t in only_test],
            "cosine_threshold": cosine_threshold, "error_tolerance": tolerance,
            "precision_class": kind}


CSV_FIELDS = ("order", "op", "slot", "op_type", "dtype_base", "dtype_test", "shape_base",
              "shape_test", "cosine", "max_abs", "max_rel", "err_range", "nan_base", "nan_test",
              "inf_base", "inf_test", "status", "reason")


def _fmt(value, spec="%.6g"):
    if value is None:
        return "-"
    if isinstance(value, float):
        return spec % value
    return str(value)


def table_lines(result, rows_shown):
    rows = result["rows"]
    first = result["first_divergence"]
    if first is None:
        # nothing diverged: show the tensors closest to the thresholds, in execution order
        worst = sorted(rows, key=lambda r: (r["cosine"] if r["cosine"] is not None else 1.0,
                                            -(r["err_range"] or 0.0)))[:rows_shown]
        shown = sorted(worst, key=lambda r: r["order"])
    else:
        at = rows.index(first)
        lo = max(0, at - rows_shown // 2)
        shown = rows[lo:lo + rows_shown]
    lines = ["| # | op:slot | type | dtype base/test | cosine | max abs | max rel | err/range | "
             "NaN/Inf base | NaN/Inf test | |",
             "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in shown:
        lines.append("| %d | %s:%d | %s | %s/%s | %s | %s | %s | %s | %d/%d | %d/%d | %s |" % (
            r["order"], r["op"], r["slot"], r["op_type"] or "?", r["dtype_base"] or "?",
            r["dtype_test"] or "?", _fmt(r["cosine"], "%.6f"), _fmt(r["max_abs"]),
            _fmt(r["max_rel"]), _fmt(r["err_range"]), r["nan_base"], r["inf_base"],
            r["nan_test"], r["inf_test"], "**DIVERGES**: " + r["reason"] if r["diverged"] else
            ("%s: %s" % (r["status"], r["reason"]) if r["reason"] else "")))
    if len(shown) < len(rows):
        lines.append("")
        lines.append("(%d of %d compared tensors shown: %s; all in the CSV)" % (
            len(shown), len(rows), "those around the first divergence" if first else
            "those with the lowest cosine"))
    return lines


def report(result, base_dir, test_dir, rows=None):
    out = ["### Tensors: %s vs %s" % (test_dir, base_dir), ""]
    out.append("Thresholds: cosine %g, error %g of the range (%s tensors)." % (
        result["cosine_threshold"], result["error_tolerance"], result["precision_class"]))
    out.append("Compared %d tensors (execution order of the base run); unmatched: %d only in base, "
               "%d only in test." % (len(result["rows"]), len(result["only_base"]),
                                     len(result["only_test"])))
    for label, names in (("only in base", result["only_base"]), ("only in test", result["only_test"])):
        if names:
            out.append("- %s: %s%s" % (label, ", ".join(names[:8]),
                                       ", ... (%d in all)" % len(names) if len(names) > 8 else ""))
    out.append("")
    out.extend(table_lines(result, rows or DEFAULT_ROWS))
    out.append("")
    first = result["first_divergence"]
    counts = result["status_counts"]
    outside = ", ".join("%d %s" % (counts[s], s) for s in STATUSES[2:] if counts[s])
    if first is None:
        out.append("NO DIVERGENCE: every matched tensor has cosine >= %g and error <= %g of its "
                   "range, with NaN/Inf on both sides or neither%s." % (
                       result["cosine_threshold"], result["error_tolerance"],
                       "; outside the thresholds but explained: " + outside if outside else ""))
    else:
        out.append("FIRST DIVERGENCE: %s:%d (%s) in layer %s: %s; %d tensor(s) diverge, %s." % (
            first["op"], first["slot"], first["op_type"] or "?", result["layer"], first["reason"],
            result["diverged"], outside or "no other outside the thresholds"))
        if result["first_divergence_unmatched_inputs"]:
            out.append("Its inputs %s exist only in the base run: the graphs differ just before it."
                       % ", ".join(result["first_divergence_unmatched_inputs"]))
    return out



def _csv_text(rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("expected a number in [0, 1], got %r" % text)
    return value


def _positive(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError("expected a positive number, got %r" % text)
    return value


def build_parser():
    p = _Parser(prog="python -m common.compare_tensors", description=__doc__.split("\n")[0],
                epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="the reference dump (e.g. the fp32 or GPU run)")
    p.add_argument("--test", required=True, help="the dump under test")
    p.add_argument("--step", type=int, default=None, help="the step to compare when a folder holds several")
    p.add_argument("--cosine_threshold", type=_fraction, default=None,
                   help="a tensor below this cosine similarity diverges (default: 0.9 with 16-bit "
                        "tensors in either dump, else 0.999)")
    p.add_argument("--error_tolerance", type=_positive, default=None,
                   help="a tensor whose max abs error exceeds this fraction of its max |base| "
                        "diverges (default: 1.0 with 16-bit tensors in either dump, else 0.001)")
    p.add_argument("--filter", default=None, help="compare only ops whose name matches this regex")
    p.add_argument("--ignore", default=None,
                   help="leave out ops whose name matches this regex (differences known to be "
                        "harmless, e.g. 'attention/self/key/(bias|BiasAdd)': BERT's key bias cannot "
                        "change the attention, so its updates follow rounding noise)")
    p.add_argument("--output_dir", default=None,
                   help="where tensor_compare.csv / .json go (default: the test dump's folder)")
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="table rows on stdout (the CSV has all)")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        for flag in ("filter", "ignore"):
            if getattr(args, flag):
                try:
                    re.compile(getattr(args, flag))
                except re.error as exc:
                    raise DumpError("--%s is not a regular expression (%s)" % (flag, exc))
        loaded = []
        for which in ("base", "test"):
            try:
                loaded.append(load_dump(getattr(args, which), args.step))
            except DumpError as exc:
                raise DumpError("--%s: %s" % (which, exc))
        (base_dir, base, _), (test_dir, test, _) = loaded
        result = compare_dumps(base, test, args.cosine_threshold, args.error_tolerance, args.filter,
                               args.ignore)
        if not result["rows"]:
            raise DumpError("no tensor of %s matches one of %s by op name" % (test_dir, base_dir))
        out_dir = args.output_dir or test_dir
        os.makedirs(out_dir, exist_ok=True)
        atomic_io.write_text(os.path.join(out_dir, "tensor_compare.csv"), _csv_text(result["rows"]))
        summary = {k: v for k, v in result.items() if k != "rows"}
        summary.update(base=base_dir, test=test_dir, compared=len(result["rows"]))
        atomic_io.write_json(os.path.join(out_dir, "tensor_compare.json"), summary)
    except DumpError as exc:
        sys.stderr.write("%s: error: %s\n" % (parser.prog, exc))
        return EXIT_USAGE
    sys.stdout.write("\n".join(report(result, base_dir, test_dir, max(1, args.rows))) + "\n")
    sys.stdout.write("\nCSV: %s\nJSON: %s\n" % (os.path.join(out_dir, "tensor_compare.csv"),
                                                os.path.join(out_dir, "tensor_compare.json")))
    return EXIT_DIVERGED if result["first_divergence"] else EXIT_SAME


if __name__ == "__main__":
    sys.exit(main())
