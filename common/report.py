"""The Final block of a delivery script, from a run's results JSON.

    python -m common.report --results=R.json --network=NAME --kind=perf|acc --log_dir=DIR --e2e_sec=S

prints
    ------------------ Final result ------------------
    Final Performance sentences/sec : X      (the run's unit)
    Final Performance images/sec : X         (the line Ascend's tooling greps; BERT's originals print it too)
    Final Performance ms/step : X
    Final Precision <Metric> : X             (kind=acc)
    Final Train Accuracy : X                 (kind=acc; the same value, under the name Ascend's tooling greps)
    Final Baseline <Metric> : X (method)     (kind=acc, when the run scored a simple reference: --baseline)
    Final Training Steps : N                 (steps this run trained; a resumed run trains fewer)
    Final Overflow Steps : K                 (updates skipped by loss scaling; K in the timed window)
    Final Training Duration sec : X
    E2E Training Duration sec : X
    PrecisionStatus : OK|POK|NOK (...)       (against the run's target, common/targets.py; or
    PerfStatus : OK|POK|NOK (...)             "not checked (why)")
    note: ...                                (when too few steps were timed, dumps, ...)
and writes, atomically, DIR/<CaseName>.log (`Key = value` lines, the originals' keys and order:
Network, RankSize, BatchSize, DeviceType, CaseName, ActualFPS, TrainingTime, ActualLoss,
E2ETrainingTime, then TrainAccuracy in acc runs, then PrecisionStatus / PerfStatus when checked) and DIR/train_<CaseName>_loss.txt (one loss per
logged step), CaseName = <Network>_bs<BatchSize>_<RankSize>p_<kind>.
"""
import argparse
import json
import sys

from common import targets
from common.atomic_io import write_json, write_text

FINAL_RULE = "------------------ Final result ------------------"
EXIT_NOK = 4   # --enforce_targets and a status is NOK; everything is written all the same


class ReportError(ValueError):
    pass


def load_results(path):
    try:
        with open(path) as f:
            results = json.load(f)
    except FileNotFoundError:
        raise ReportError("no results file %s: the training process wrote none" % path)
    except ValueError as exc:
        raise ReportError("results file %s is not valid JSON (%s)" % (path, exc))
    for key in ("batch_size", "throughput", "ms_per_step", "loss_history"):
        if results.get(key) is None:
            raise ReportError("results file %s has no %s: the run logged no training step"
                              % (path, key))
    return results


def case_name(network, batch_size, rank_size, kind):
    return "%s_bs%d_%dp_%s" % (network, batch_size, rank_size, kind)


def build_report(results, network, kind, e2e_sec, checked=None):
    """(final block lines, CaseName, CaseName.log lines, loss lines); `checked` is
    common.targets.statuses(...) or None."""
    if kind not in ("perf", "acc"):
        raise ReportError("kind must be perf or acc, got %r" % kind)
    precision = results.get("precision_metric")
    if kind == "acc" and not precision:
        raise ReportError("a full (acc) run must report a precision metric; the results have none")
    rank_size = int(results.get("rank_size") or 1)
    name = case_name(network, int(results["batch_size"]), rank_size, kind)
    unit = results.get("throughput_unit") or "sentences/sec"
    train_sec = (results.get("durations_sec") or {}).get("train")
    final = [FINAL_RULE, "Final Performance %s : %.2f" % (unit, results["throughput"])]
    if unit != "images/sec":
        final.append("Final Performance images/sec : %.2f" % results["throughput"])
    final.append("Final Performance ms/step : %.2f" % results["ms_per_step"])
    if kind == "acc":
        final.append("Final Precision %s : %.7g" % (precision["name"], precision["value"]))
        final.append("Final Train Accuracy : %.7g" % precision["value"])
        baseline = results.get("baseline")
        if baseline:
            final.append("Final Baseline %s : %.7g (%s)" % (baseline["name"], baseline["value"],
                                                          baseline["method"]))
    if results.get("steps_run") is not None:
        final.append("Final Training Steps : %d" % results["steps_run"])
    if results.get("overflow_steps") is not None:
        final.append("Final Overflow Steps : %d (%d in the timed window)"
                     % (results["overflow_steps"], results.get("overflow_steps_timed") or 0))
    final.append("Final Training Duration sec : %.2f" % (train_sec if train_sec is not None else 0))
    final.append("E2E Training Duration sec : %.2f" % e2e_sec)
    for key in ("PrecisionStatus", "PerfStatus"):
        if checked and key in checked:
            final.append("%s : %s" % (key, checked[key]["line"]))
    if results.get("timing_note"):
        final.append("note: %s" % results["timing_note"])
    for note in results.get("notes") or []:
        final.append("note: %s" % note)
    case = [("Network", network), ("RankSize", rank_size), ("BatchSize", results["batch_size"]),
            ("DeviceType", results.get("device")), ("CaseName", name),
            ("ActualFPS", "%.2f" % results["throughput"]),
            ("TrainingTime", "%.2f" % results["ms_per_step"]),
            ("ActualLoss", "%.6f" % results["final_loss"]),
            ("E2ETrainingTime", "%.2f" % e2e_sec)]
    if kind == "acc":
        case.append(("TrainAccuracy", "%.7g" % precision["value"]))
    for key in ("PrecisionStatus", "PerfStatus"):
        if checked and checked.get(key, {}).get("status"):
            case.append((key, checked[key]["status"]))
    case_lines = ["%s = %s" % kv for kv in case]
    loss_lines = ["%.6f" % loss for _, loss in results["loss_history"]]
    return final, name, case_lines, loss_lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", required=True)
    parser.add_argument("--network", required=True)
    parser.add_argument("--kind", required=True, choices=("perf", "acc"))
    parser.add_argument("--log_dir", required=True)
    parser.add_argument("--e2e_sec", type=float, required=True)
    parser.add_argument("--targets", default=None, help="the model's targets.json")
    parser.add_argument("--run_name", default=None, help="the delivery run's name (default: kind)")
    parser.add_argument("--demo", default="0", help="1 when the run used the embedded demo data")
    parser.add_argument("--target_precision", type=float, default=None)
    parser.add_argument("--target_fps", type=float, default=None)
    parser.add_argument("--enforce_targets", default="False",
                        help="True: exit %d when a status is NOK (after writing everything)" % EXIT_NOK)
    args = parser.parse_args(argv)
    try:
        results = load_results(args.results)
        resolved = targets.resolve(targets.load(args.targets), args.run_name or args.kind, results,
                                   args.demo in ("1", "True", "true"), args.target_precision,
                                   args.target_fps)
        checked = targets.statuses(resolved, results, args.kind)
        final, name, case_lines, loss_lines = build_report(results, args.network, args.kind,
                                                           args.e2e_sec, checked)
    except (ReportError, targets.TargetsError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    results["targets"] = {k: {kk: vv for kk, vv in v.items() if kk != "line"} for k, v in checked.items()}
    write_json(args.results, results)
    write_text("%s/%s.log" % (args.log_dir, name), "\n".join(case_lines) + "\n")
    write_text("%s/train_%s_loss.txt" % (args.log_dir, name), "\n".join(loss_lines) + "\n")
    print("\n".join(final), flush=True)
    failed = [k for k, v in checked.items() if v.get("status") == "NOK"]
    if failed and args.enforce_targets in ("True", "true", "1"):
        print("error: --enforce_targets: %s NOK (%s)" % (" and ".join(failed), "; ".join(
            checked[k]["line"] for k in failed)), file=sys.stderr)
        return EXIT_NOK
    return 0


if __name__ == "__main__":
    sys.exit(main())
