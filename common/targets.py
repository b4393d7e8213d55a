"""Accuracy and performance targets, and the OK / POK / NOK statuses ModelZoo reports against them.

Each model folder holds `targets.json`, keyed by the delivery run's name (RUN_NAME: acc, perf,
pretrain_acc, ...):

    {"acc": {"demo":      {"precision": 0.78, "fps": 50.0, "machine": {"cpu": "AMD EPYC",
                                                                   "isa": "AVX-512 (+BF16, VNNI)"},
                           "source": "measured here on the embedded demo"},
             "reference": {"MRPC": {"precision": 0.84, "fps": 384.2, "fps_device": "npu",
                                    "source": "google-research/bert, Ascend Bert_Google_finetune"}}}}

`demo` applies to runs on the embedded demo data; `reference` to the task of the results (the
original deliveries' and papers' figures) with the user's own data. A performance figure holds only
where it was measured: a reference fps only on its `fps_device` (an Ascend figure says nothing
about a CPU), a demo fps only on a CPU of the same model and ISA as `machine` and with the
`precision_mode` and `batch_size` it was measured with. `--target_precision`
/ `--target_fps` override both.

Statuses (this project's reading of ModelZoo's modelzoo_level.txt values):
    PrecisionStatus  OK  >= target;  POK  >= target - 1 % of it (Ascend's precision-debugging
                     guide counts an average error within 1 % as aligned);  NOK below
    PerfStatus       OK  >= target;  POK  >= 80 % of it;  NOK below
A metric where lower is better (a loss) has "lower_is_better": true beside its target.
"""
import json
import os

PRECISION_POK = 0.01
PERF_POK = 0.8


class TargetsError(ValueError):
    pass


def load(path):
    if not path or not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
    except ValueError as exc:
        raise TargetsError("%s is not valid JSON (%s)" % (path, exc))
    if not isinstance(data, dict):
        raise TargetsError("%s must hold an object keyed by run name" % path)
    return data


def _task_key(task):
    return (task or "").replace(" (embedded demo)", "").strip()


def resolve(targets, run_name, results, demo, target_precision=None, target_fps=None):
    """{"precision": {...} | None, "fps": {...} | None}: the targets that hold for this run, each
    {"target", "source", "lower_is_better"} or {"target": None, "why": ...}."""
    entry = targets.get(run_name, {})
    if demo:
        spec, where = entry.get("demo") or {}, "embedded-demo target"
    else:
        spec = (entry.get("reference") or {}).get(_task_key(results.get("task")), {})
        where = "reference target for %s" % _task_key(results.get("task"))
    out = {}
    if target_precision is not None:
        out["precision"] = {"target": target_precision, "source": "--target_precision"}
    elif spec.get("precision") is not None:
        out["precision"] = {"target": spec["precision"], "lower_is_better": bool(spec.get("lower_is_better")),
                            "source": "%s (%s)" % (where, spec.get("source", "targets.json"))}
    else:
        out["precision"] = {"target": None, "why": "no %s and no --target_precision" % where}
    device = results.get("device")
    machine = ((results.get("fingerprint") or {}).get("device") or {})
    if target_fps is not None:
        out["fps"] = {"target": target_fps, "source": "--target_fps"}
    elif spec.get("fps") is None:
        out["fps"] = {"target": None, "why": "no %s for throughput and no --target_fps" % where}
    elif demo and spec.get("machine") and any(machine.get(k) != v for k, v in spec["machine"].items()):
        out["fps"] = {"target": None, "why": "the demo throughput target was measured on %s; this "
                      "machine is %s %s (pass --target_fps)" % (
                          " ".join(str(v) for v in spec["machine"].values()),
                          machine.get("cpu"), machine.get("isa"))}
    elif demo and spec.get("batch_size") and spec["batch_size"] != results.get("batch_size"):
        out["fps"] = {"target": None, "why": "the demo throughput target is for --batch_size=%s; this "
                      "run has %s (pass --target_fps)" % (spec["batch_size"], results.get("batch_size"))}
    elif demo and spec.get("precision_mode") and spec["precision_mode"] != results.get("precision_mode"):
        out["fps"] = {"target": None, "why": "the demo throughput target is for --precision_mode=%s; "
                      "this run is %s (pass --target_fps)" % (spec["precision_mode"],
                                                             results.get("precision_mode"))}
    elif not demo and spec.get("fps_device") and spec["fps_device"] != device:
        out["fps"] = {"target": None, "why": "the reference throughput is an %s figure; this run is on "
                      "%s (pass --target_fps)" % (spec["fps_device"], device)}
    else:
        out["fps"] = {"target": spec["fps"], "source": "%s (%s)" % (where, spec.get("source", "targets.json"))}
    return out


def precision_status(value, target, lower_is_better=False):
    if lower_is_better:
        return "OK" if value <= target else "POK" if value <= target * (1 + PRECISION_POK) else "NOK"
    return "OK" if value >= target else "POK" if value >= target * (1 - PRECISION_POK) else "NOK"


def perf_status(fps, target):
    return "OK" if fps >= target else "POK" if fps >= target * PERF_POK else "NOK"


def statuses(resolved, results, kind):
    """{"PrecisionStatus": {...}, "PerfStatus": {...}} with status OK/POK/NOK or None (not checked)
    and the words of the line the Final block prints."""
    out = {}
    precision = results.get("precision_metric")
    spec = resolved["precision"]
    if kind != "acc" or not precision:
        out["PrecisionStatus"] = {"status": None, "line": "not checked (a performance run reports no precision)"}
    elif spec["target"] is None:
        out["PrecisionStatus"] = {"status": None, "line": "not checked (%s)" % spec["why"]}
    else:
        status = precision_status(precision["value"], spec["target"], spec.get("lower_is_better", False))
        sign = "<=" if spec.get("lower_is_better") else ">="
        out["PrecisionStatus"] = {"status": status, "value": precision["value"], "target": spec["target"],
                                  "line": "%s (%s %.4g, target %s %.4g; %s)" % (
                                      status, precision["name"], precision["value"], sign,
                                      spec["target"], spec["source"])}
    spec = resolved["fps"]
    if spec["target"] is None:
        out["PerfStatus"] = {"status": None, "line": "not checked (%s)" % spec["why"]}
    else:
        status = perf_status(results["throughput"], spec["target"])
        out["PerfStatus"] = {"status": status, "value": results["throughput"], "target": spec["target"],
                             "line": "%s (%.2f %s, target >= %.2f; %s)" % (
                                 status, results["throughput"], results.get("throughput_unit") or "",
                                 spec["target"], spec["source"])}
    return out
