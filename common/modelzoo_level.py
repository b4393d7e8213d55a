"""Write a model's modelzoo_level.txt from its measured runs, as the ModelZoo deliveries carry it.

    python -m common.modelzoo_level <Model folder> [--runs=<output folder>]

reads every results_<RUN>.json under --runs (default <Model>/test/output/0, where the delivery
scripts put them), takes the statuses the Final block gave against the model's targets
(common/targets.py) and writes, atomically, <Model>/modelzoo_level.txt:

    FuncStatus:OK            every delivery run found finished with a Final block
    PerfStatus:OK|POK|NOK    the worst PerfStatus of the runs that had a throughput target
    PrecisionStatus:OK|POK|NOK   the worst PrecisionStatus of the full runs

A status no run checked is left out (and said on stdout); the runs it came from are listed on
stdout, never in the file, whose format Ascend's tooling reads.
"""
import argparse
import glob
import json
import os
import sys

from common.atomic_io import write_text

ORDER = {"NOK": 0, "POK": 1, "OK": 2}


def level(results_files):
    """({key: status}, [lines saying where each came from])."""
    worst, said = {}, []
    for path in sorted(results_files):
        with open(path) as f:
            results = json.load(f)
        for key, value in (results.get("targets") or {}).items():
            status = value.get("status")
            if status is None:
                continue
            said.append("%s: %s %s" % (os.path.basename(path), key, status))
            if key not in worst or ORDER[status] < ORDER[worst[key]]:
                worst[key] = status
    out = {"FuncStatus": "OK"} if results_files else {}
    for key in ("PerfStatus", "PrecisionStatus"):
        if key in worst:
            out[key] = worst[key]
    return out, said


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="the model folder, e.g. Bert_base")
    parser.add_argument("--runs", default=None, help="folder of results_*.json (default <model>/test/output/0)")
    args = parser.parse_args(argv)
    runs = args.runs or os.path.join(args.model, "test", "output", "0")
    files = glob.glob(os.path.join(runs, "results_*.json"))
    if not files:
        print("error: no results_*.json in %s: run the model's test/train_*.sh first" % runs,
              file=sys.stderr)
        return 1
    statuses, said = level(files)
    for line in said:
        print(line)
    for key in ("PerfStatus", "PrecisionStatus"):
        if key not in statuses:
            print("%s: no run checked it (no target held); left out" % key)
    path = os.path.join(args.model, "modelzoo_level.txt")
    write_text(path, "".join("%s:%s\n" % kv for kv in statuses.items()))
    print("wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
