"""`make bench` / `python -m bench`: training speed of every model against this machine's limit.

For each case (model, size, precision, input mode, batch, sequence length) the model's own entry
point trains a fixed number of steps in a fresh process (`--synthetic_data` for the input mode
without I/O, the real TFRecord pipeline otherwise); the first `warmup` steps are left out of the
timing. Per case: ms/step (median, min, max), samples/sec, achieved TFLOP/s from bench/flops.py,
the fraction of the matmul peak of the precision that ran (measured here by bench/peak.py) and the
process's peak RSS. Then: mixed-vs-fp32 speedups, real-vs-synthetic input overhead, scaling rows
(time per sample at two batch sizes / two sequence lengths), the targets of issue 10 with whether
this machine can check them, and the differences to the committed baseline of this CPU.

    python -m bench [--quick] [--only=REGEX] [--json=bench_results/bench.json]
                    [--baseline=auto|PATH] [--write_baseline]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

# This process only measures the matmul peak; the cases run in their own processes (level 2).
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from bench import flops as flop_count  # noqa: E402
from common import atomic_io, cpu_features  # noqa: E402

DEFAULT_JSON = os.path.join(REPO_ROOT, "bench_results", "bench.json")
# One committed baseline per CPU (model and ISA): times on another CPU are not comparable.
BASELINE_DIR = os.path.join(REPO_ROOT, "bench", "baselines")
PRECISIONS = {"fp32": "force_fp32", "mixed": "allow_mix_precision"}


def _config(name):
    with open(os.path.join(REPO_ROOT, "configs", name)) as f:
        return json.load(f)


def _demo(name, module="common.demo_data"):
    """Folder of an embedded data set (generated once into .cache/)."""
    out = subprocess.run([sys.executable, "-m", module, name], cwd=REPO_ROOT, check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    return out.strip().splitlines()[-1]


def bert_seq512_records():
    """BERT pretraining TFRecords at seq 512 (80 predictions) from the demo's eval corpus."""
    folder = os.path.join(REPO_ROOT, ".cache", "bench", "bert_seq512")
    path = os.path.join(folder, "train.tfrecord")
    if not os.path.isfile(path):
        demo = _demo("bert_pretrain")
        os.makedirs(folder, exist_ok=True)
        subprocess.run([sys.executable, "Bert_base/create_pretraining_data.py",
                        "--input_file=%s/corpus_eval.txt" % demo, "--output_file=%s.tmp" % path,
                        "--vocab_file=%s/vocab.txt" % demo, "--max_seq_length=512",
                        "--max_predictions_per_seq=80", "--dupe_factor=1"], cwd=REPO_ROOT,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.replace(path + ".tmp", path)
    return path


# ----------------------------------------------------------------------------------------------
# The models: entry-point command line and FLOPs of one case
# ----------------------------------------------------------------------------------------------

def bert_case(case, steps, out):
    seq = case["seq"]
    preds = 20 if seq == 128 else 80
    data = (os.path.join(_demo("bert_pretrain"), "train.tfrecord") if seq == 128
            else bert_seq512_records())
    config = "bert_base.json" if case["size"] == "standard" else "bert_tiny.json"
    cmd = ["Bert_base/run_pretraining.py", "--input_file=" + data, "--output_dir=" + out,
           "--bert_config_file=configs/" + config, "--do_train", "--max_seq_length=%d" % seq,
           "--max_predictions_per_seq=%d" % preds, "--train_batch_size=%d" % case["batch"],
           "--num_train_steps=%d" % steps, "--num_warmup_steps=1", "--learning_rate=1e-4"]
    fl = flop_count.training_step(flop_count.bert_forward(_config(config), case["batch"], seq,
                                                          preds))
    return cmd, fl


def albert_case(case, steps, out):
    config = "albert_base.json" if case["size"] == "standard" else "albert_tiny.json"
    data = os.path.join(_demo("albert_pretrain"), "train.tfrecord")
    cmd = ["Albert/run_pretraining.py", "--input_file=" + data, "--output_dir=" + out,
           "--albert_config_file=configs/" + config, "--do_train", "--max_seq_length=128",
           "--max_predictions_per_seq=20", "--train_batch_size=%d" % case["batch"],
           "--num_train_steps=%d" % steps, "--num_warmup_steps=1", "--learning_rate=1e-4"]
    fl = flop_count.training_step(flop_count.albert_forward(_config(config), case["batch"], 128,
                                                            20))
    return cmd, fl


def xlnet_case(case, steps, out):
    config = "xlnet_base.json" if case["size"] == "standard" else "xlnet_tiny.json"
    data = os.path.join(_demo("xlnet_pretrain", "XLNet.demo_pretrain"), "tfrecords")
    if not os.path.isdir(data):
        data = os.path.dirname(data)
    # The demo records' shapes (XLNet/test/xlnet_delivery.sh): batch 16, seq 128, reuse 64.
    cmd = ["XLNet/run_pretraining.py", "--record_info_dir=" + data, "--output_dir=" + out,
           "--model_config_path=configs/" + config, "--do_train", "--train_batch_size=16",
           "--seq_len=128", "--reuse_len=64", "--perm_size=32", "--mem_len=64",
           "--num_predict=21", "--train_steps=%d" % steps, "--warmup_steps=1",
           "--learning_rate=1e-4"]
    fl = flop_count.training_step(flop_count.xlnet_forward(_config(config), 16, 128, 64, 21))
    return cmd, fl


def resnext_case(case, steps, out):
    config = "resnext50.json" if case["size"] == "standard" else "resnext_tiny.json"
    size = case["seq"]   # the image size
    cmd = ["ResNext50/run_resnext50.py", "--data_url=" + _demo("resnext_digits",
                                                               "ResNext50.demo_images"),
           "--model_dir=" + out, "--model_config=configs/" + config, "--mode=train",
           "--eval=False", "--batch_size=%d" % case["batch"], "--max_train_steps=%d" % steps,
           "--image_size=%d" % size, "--num_classes=10", "--warmup_epochs=0",
           "--task_name=digits"]
    fl = flop_count.training_step(flop_count.resnext_forward(_config(config), case["batch"], size,
                                                             10))
    return cmd, fl


MODELS = {"Bert_base": (bert_case, "seq"), "Albert": (albert_case, "seq"),
          "XLNet": (xlnet_case, "seq"), "ResNext50": (resnext_case, "image")}


def suite(quick=False):
    """The cases: (model, size, precision, input, batch, seq or image size)."""
    def case(model, size, precision, inp, batch, seq, role="main"):
        return dict(model=model, size=size, precision=precision, input=inp, batch=batch, seq=seq,
                    role=role)
    cases = []
    both = ("fp32", "mixed")
    if quick:
        for p in both:
            cases.append(case("Bert_base", "standard", p, "synthetic", 8, 128))
        for model, seq in (("Bert_base", 128), ("Albert", 128), ("XLNet", 128),
                           ("ResNext50", 32)):
            for p in both:
                cases.append(case(model, "tiny", p, "synthetic", 8 if model != "XLNet" else 16,
                                  seq))
        return cases
    # Standard sizes, synthetic and real input, both precisions.
    for model, batch, seq in (("Bert_base", 8, 128), ("ResNext50", 16, 224)):
        for inp in ("synthetic", "real"):
            for p in both:
                cases.append(case(model, "standard", p, inp, batch, seq))
    for p in both:
        cases.append(case("Albert", "standard", p, "synthetic", 8, 128))
        cases.append(case("XLNet", "standard", p, "synthetic", 16, 128))
    # Scaling (fp32, to fit the 30 minutes): BERT at batch 16 and at seq 512, ResNeXt at batch 8.
    cases.append(case("Bert_base", "standard", "fp32", "synthetic", 16, 128, "scaling"))
    cases.append(case("Bert_base", "standard", "fp32", "synthetic", 2, 512, "scaling"))
    cases.append(case("ResNext50", "standard", "fp32", "synthetic", 8, 224, "scaling"))
    # Demo (tiny) sizes.
    for model, batch, seq in (("Bert_base", 32, 128), ("Albert", 32, 128), ("XLNet", 16, 128),
                              ("ResNext50", 32, 32)):
        for p in both:
            cases.append(case(model, "tiny", p, "synthetic", batch, seq))
    return cases


def case_name(case):
    dim = "img%d" % case["seq"] if MODELS[case["model"]][1] == "image" else "seq%d" % case["seq"]
    return "%s/%s/%s/bs%d/%s/%s" % (case["model"], case["size"], dim, case["batch"],
                                    case["precision"], case["input"])


# ----------------------------------------------------------------------------------------------
# Running one case
# ----------------------------------------------------------------------------------------------

def run_case(case, warmup, timed, log_dir, echo=print):
    """Train the case in a fresh process; its timing, FLOPs and peak RSS as a dict."""
    steps = warmup + timed
    with tempfile.TemporaryDirectory(prefix="bench-") as out:
        cmd, step_flops = MODELS[case["model"]][0](case, steps, os.path.join(out, "run"))
        results = os.path.join(out, "results.json")
        cmd = [sys.executable] + cmd + [
            "--precision_mode=" + PRECISIONS[case["precision"]], "--results_json=" + results,
            "--timing_skip_steps=%d" % warmup, "--iterations_per_loop=%d" % steps,
            "--save_checkpoints_steps=%d" % (steps + 1000), "--keep_checkpoint_max=1"]
        if case["input"] == "synthetic":
            cmd.append("--synthetic_data=True")
        log_path = os.path.join(log_dir, re.sub(r"[^A-Za-z0-9_.-]", "_", case_name(case)) + ".log")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        env.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
        start = time.time()
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, universal_newlines=True)
            for line in proc.stdout:
                log.write(line)
                if line.startswith(("step = ", "error: ")):
                    echo("      " + line.rstrip()[:110])
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status) if hasattr(
                os, "waitstatus_to_exitcode") else (status >> 8)
        wall = time.time() - start
        if proc.returncode != 0 or not os.path.isfile(results):
            return dict(case, name=case_name(case), ok=False, log=log_path,
                        error="exit %d, see %s" % (proc.returncode, log_path))
        with open(results) as f:
            record = json.load(f)
    times = [ms for step, ms in record["step_time_ms"] if step >= warmup]
    row = dict(case, name=case_name(case), ok=True, log=log_path,
               precision_ran=record.get("precision"), steps=steps, warmup_steps=warmup,
               step_ms=times, tflop_per_step=step_flops / 1e12,
               peak_rss_mib=usage.ru_maxrss / 1024.0, wall_sec=wall, runs=1)
    return summarise(row)


def summarise(row):
    """ms/step statistics of a row from its timed steps (of every repeat)."""
    times = row["step_ms"]
    median = statistics.median(times)
    row.update(timed_steps=len(times), ms_per_step=median, ms_min=min(times), ms_max=max(times),
               spread=(max(times) - min(times)) / median,
               samples_per_sec=row["batch"] * 1000.0 / median,
               tflops=row["tflop_per_step"] / (median / 1000.0))
    return row


def merge_repeat(rows, row):
    """Fold a repeat's row into the first row of the same case (steps pooled, RSS max)."""
    first = next((r for r in rows if r["name"] == row["name"]), None)
    if first is None or not first.get("ok") or not row.get("ok"):
        rows.append(row)
        return
    first["step_ms"] = first["step_ms"] + row["step_ms"]
    first["peak_rss_mib"] = max(first["peak_rss_mib"], row["peak_rss_mib"])
    first["wall_sec"] += row["wall_sec"]
    first["runs"] += 1
    summarise(first)


# ----------------------------------------------------------------------------------------------
# Tables: derived rows, targets, baseline
# ----------------------------------------------------------------------------------------------

def add_peak_fraction(rows, peaks):
    for row in rows:
        if not row.get("ok"):
            continue
        bf16 = "bf16" in (row.get("precision_ran") or "")
        peak = peaks.get("bfloat16" if bf16 else "float32", {}).get("best_gflops")
        row["peak_gflops"] = peak
        row["fraction_of_peak"] = row["tflops"] * 1000.0 / peak if peak else None


def _key(row, **changes):
    fields = dict((k, row[k]) for k in ("model", "size", "precision", "input", "batch", "seq"))
    fields.update(changes)
    return tuple(sorted(fields.items()))


def derived(rows):
    """Speedups (mixed / fp32), input overhead (real / synthetic), scaling (per-sample time)."""
    index = {_key(r): r for r in rows if r.get("ok")}
    speedups, overheads, scaling = [], [], []
    for row in index.values():
        if row["precision"] == "fp32":
            other = index.get(_key(row, precision="mixed"))
            if other:
                speedups.append(dict(name=row["name"].replace("/fp32", ""),
                                     fp32_ms=row["ms_per_step"], mixed_ms=other["ms_per_step"],
                                     speedup=row["ms_per_step"] / other["ms_per_step"],
                                     mixed_ran=other["precision_ran"]))
        if row["input"] == "real":
            other = index.get(_key(row, input="synthetic"))
            if other:
                overheads.append(dict(name=row["name"].replace("/real", ""),
                                      synthetic_ms=other["ms_per_step"],
                                      real_ms=row["ms_per_step"],
                                      overhead=row["ms_per_step"] / other["ms_per_step"] - 1))
        if row["role"] == "scaling":
            base = [r for r in index.values() if r["role"] == "main" and r["model"] == row["model"]
                    and r["size"] == row["size"] and r["precision"] == row["precision"]
                    and r["input"] == row["input"]]
            for ref in base:
                scaling.append(dict(
                    name=row["name"], reference=ref["name"],
                    ms_per_sample=row["ms_per_step"] / row["batch"],
                    reference_ms_per_sample=ref["ms_per_step"] / ref["batch"],
                    ratio=(row["ms_per_step"] / row["batch"]) / (ref["ms_per_step"] / ref["batch"]),
                    flop_ratio=(row["tflop_per_step"] / row["batch"])
                    / (ref["tflop_per_step"] / ref["batch"])))
    return speedups, overheads, scaling


def targets(rows, speedups, overheads, machine):
    """Issue 10's targets, each with its measured value and whether this machine can check it."""
    bf16 = machine["bf16_rewrite"]
    why_not = None if bf16 else "no bf16 rewrite on this machine (%s)" % machine["mixed_runs_as"]
    out = []

    def find(seq, name):
        return next((x for x in seq if x["name"] == name), None)

    def add(name, value, goal, checkable, reason=None, at_most=False):
        met = None
        if checkable and value is not None:
            met = value <= goal if at_most else value >= goal
        out.append(dict(target=name, value=value, goal=goal, at_most=at_most,
                        checkable=checkable and value is not None, met=met,
                        why_not_checkable=reason if not checkable else None))
    bert = find(speedups, "Bert_base/standard/seq128/bs8/synthetic")
    add("BERT-base mixed speedup over fp32", bert and bert["speedup"], 1.8, bf16, why_not)
    fp32 = next((r for r in rows if r.get("ok") and r["name"] ==
                 "Bert_base/standard/seq128/bs8/fp32/synthetic"), None)
    add("BERT-base fp32 fraction of fp32 matmul peak", fp32 and fp32.get("fraction_of_peak"), 0.75,
        True)
    rx = find(speedups, "ResNext50/standard/img224/bs16/synthetic")
    add("ResNeXt-50 mixed speedup over fp32", rx and rx["speedup"], 1.8, bf16, why_not)
    for o in overheads:
        add("input overhead %s (real / synthetic - 1)" % o["name"], o["overhead"], 0.05, True,
            at_most=True)
    return out


def compare_baseline(rows, baseline, tolerance):
    """Cases slower than the baseline by more than `tolerance` (fraction), and all ratios."""
    base = {r["name"]: r for r in baseline.get("rows", []) if r.get("ok")}
    lines, regressions = [], []
    for row in rows:
        ref = base.get(row["name"])
        if not row.get("ok") or ref is None:
            continue
        ratio = row["ms_per_step"] / ref["ms_per_step"]
        lines.append((row["name"], ref["ms_per_step"], row["ms_per_step"], ratio))
        if ratio > 1 + tolerance:
            regressions.append(row["name"])
    return lines, regressions


def machine_info():
    from common import npu_runconfig
    import tensorflow.compat.v1 as tf
    field, mixed = npu_runconfig.resolve_precision("allow_mix_precision", "cpu")
    flags = cpu_features.cpu_flags()
    return dict(cpu=cpu_features.cpu_model_name(), isa=cpu_features.isa_summary(),
                isa_flags=sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "f16c"))),
                cores=os.cpu_count(), onednn=cpu_features.onednn_enabled(),
                tensorflow=tf.VERSION, python=sys.version.split()[0],
                bf16_rewrite=field is not None, mixed_runs_as=mixed,
                load_average_at_start=os.getloadavg()[0])


def baseline_path(machine):
    """bench/baselines/<cpu model and ISA, lower-case, dashes>.json: the baseline of this CPU."""
    slug = re.sub(r"[^a-z0-9]+", "-", ("%s %s" % (machine["cpu"], machine["isa"])).lower())
    return os.path.join(BASELINE_DIR, slug.strip("-") + ".json")


def fmt_table(rows):
    head = ("case", "ran", "ms/step", "min-max", "samples/s", "TFLOP/s", "of peak", "RSS MiB")
    lines = ["%-52s %-5s %9s %15s %9s %7s %7s %7s" % head]
    for r in rows:
        if not r.get("ok"):
            lines.append("%-52s FAILED: %s" % (r["name"], r["error"]))
            continue
        ran = "bf16" if "bf16" in (r["precision_ran"] or "") else "fp32"
        frac = r.get("fraction_of_peak")
        lines.append("%-52s %-5s %9.1f %15s %9.2f %7.3f %7s %7.0f" % (
            r["name"], ran, r["ms_per_step"], "%.0f-%.0f" % (r["ms_min"], r["ms_max"]),
            r["samples_per_sec"], r["tflops"], "%.0f%%" % (100 * frac) if frac else "-",
            r["peak_rss_mib"]))
    return "\n".join(lines)


def markdown(result):
    """The table of a bench JSON as Markdown (for the README)."""
    lines = ["| case | ran | ms/step (min-max) | samples/s | TFLOP/s | of peak | RSS MiB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        if not r.get("ok"):
            lines.append("| %s | failed | | | | | |" % r["name"])
            continue
        frac = r.get("fraction_of_peak")
        lines.append("| %s | %s | %.0f (%.0f-%.0f) | %.2f | %.3f | %s | %.0f |" % (
            r["name"], "bf16" if "bf16" in (r["precision_ran"] or "") else "fp32",
            r["ms_per_step"], r["ms_min"], r["ms_max"], r["samples_per_sec"], r["tflops"],
            "%.0f %%" % (100 * frac) if frac else "-", r["peak_rss_mib"]))
    speedups, overheads, scaling = derived(result["rows"])
    if speedups:
        lines += ["", "| mixed vs fp32 | fp32 ms | mixed ms | speedup |", "|---|---:|---:|---:|"]
        lines += ["| %s | %.0f | %.0f | %.2f× |" % (x["name"], x["fp32_ms"], x["mixed_ms"],
                                                    x["speedup"]) for x in speedups]
    if overheads:
        lines += ["", "| real vs synthetic input | synthetic ms | real ms | overhead |",
                  "|---|---:|---:|---:|"]
        lines += ["| %s | %.0f | %.0f | %+.1f %% |" % (x["name"], x["synthetic_ms"], x["real_ms"],
                                                      100 * x["overhead"]) for x in overheads]
    if scaling:
        lines += ["", "| scaling case | ms/sample | reference ms/sample | time ratio | FLOP ratio |",
                  "|---|---:|---:|---:|---:|"]
        lines += ["| %s | %.0f | %.0f | %.2f | %.2f |" % (
            x["name"], x["ms_per_sample"], x["reference_ms_per_sample"], x["ratio"],
            x["flop_ratio"]) for x in scaling]
    return "\n".join(lines)


def report(result):
    out = ["", "=== machine: %(cpu)s, %(isa)s, %(cores)d cores, oneDNN %(onednn)s, TF "
           "%(tensorflow)s; mixed precision runs as: %(mixed_runs_as)s" % result["machine"]]
    for p in result["peaks"].values():
        out.append("    matmul peak %s: %s" % (p["dtype"], "%.1f GFLOP/s (best; median %.1f)" % (
            p["best_gflops"], p["median_gflops"]) if "best_gflops" in p else p["error"]))
    out += ["", fmt_table(result["rows"]), "", "=== mixed precision speedup (fp32 ms / mixed ms)"]
    out += ["    %-46s %8.1f %8.1f  %.2fx  (%s)" % (s["name"], s["fp32_ms"], s["mixed_ms"],
                                                   s["speedup"], s["mixed_ran"])
            for s in result["speedups"]]
    out.append("=== input overhead (real vs synthetic)")
    out += ["    %-46s %8.1f %8.1f  %+.1f%%" % (o["name"], o["synthetic_ms"], o["real_ms"],
                                               100 * o["overhead"]) for o in result["overheads"]]
    out.append("=== scaling (time per sample vs the reference case; FLOP ratio per sample)")
    out += ["    %-46s %.1f ms/sample vs %.1f: %.2fx (FLOPs %.2fx)" % (
        s["name"], s["ms_per_sample"], s["reference_ms_per_sample"], s["ratio"], s["flop_ratio"])
        for s in result["scaling"]]
    out.append("=== targets (issue 10)")
    for t in result["targets"]:
        value = "n/a" if t["value"] is None else "%.3f" % t["value"]
        if t["value"] is None:
            state = "not measured in this run"
        elif t["checkable"]:
            state = "met" if t["met"] else "NOT met"
        else:
            state = "not checkable here: " + t["why_not_checkable"]
        out.append("    %-62s %s (goal %s %g): %s" % (t["target"], value,
                                                       "<=" if t["at_most"] else ">=", t["goal"],
                                                       state))
    b = result.get("baseline")
    if b and b.get("missing"):
        out.append("=== no baseline %s: --write_baseline writes this CPU's" % b["path"])
    elif b:
        out.append("=== vs baseline %s (%s)" % (b["path"], b["machine"]))
        out += ["    %-52s %8.1f -> %8.1f ms  %.2fx" % line for line in b["lines"]]
        out.append("    regressions (> %d%% slower): %s" % (100 * b["tolerance"],
                                                          ", ".join(b["regressions"]) or "none"))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description="Training speed of the "
                                     "models against this machine's matmul peak (bench/README.md).")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH") == "quick",
                        help="a short version (BERT-base synthetic + the tiny configs); "
                        "BENCH=quick does the same")
    parser.add_argument("--only", default=None, help="run only the cases whose name matches")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (default 3)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 5)")
    parser.add_argument("--json", default=DEFAULT_JSON)
    parser.add_argument("--baseline", default="auto", help="the baseline JSON to compare with "
                        "(auto: bench/baselines/ of this CPU)")
    parser.add_argument("--tolerance", type=float, default=0.15)
    parser.add_argument("--write_baseline", action="store_true",
                        help="also write the result as the new --baseline")
    parser.add_argument("--peak_size", type=int, default=2048)
    parser.add_argument("--markdown", default=None, metavar="JSON",
                        help="print the table of an earlier run's JSON as Markdown and exit")
    parser.add_argument("--repeats", type=int, default=1, help="run the whole list this many "
                        "times, interleaved, pooling each case's timed steps (shared cores)")
    args = parser.parse_args(argv)
    if args.markdown:
        with open(args.markdown) as f:
            print(markdown(json.load(f)))
        return 0
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    timed = args.steps if args.steps is not None else (3 if args.quick else 5)
    cases = suite(args.quick)
    if args.only:
        cases = [c for c in cases if re.search(args.only, case_name(c))]
    if not cases:
        print("error: --only=%s matches no case" % args.only, file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    log_dir = os.path.join(os.path.dirname(os.path.abspath(args.json)), "logs")
    os.makedirs(log_dir, exist_ok=True)
    started = time.time()
    machine = machine_info()
    print("bench: %d cases x %d, %d warm-up + %d timed steps each; logs in %s" % (
        len(cases), max(1, args.repeats), warmup, timed, log_dir), flush=True)
    print("bench: measuring the matmul peaks (%d x %d) ..." % (args.peak_size, args.peak_size),
          flush=True)
    from bench import peak
    peaks = {d: peak.matmul_peak(d, args.peak_size) for d in ("float32", "bfloat16")}
    rows = []
    runs = [case for _ in range(max(1, args.repeats)) for case in cases]
    for i, case in enumerate(runs, 1):
        print("[%d/%d] %s (%.0f s so far)" % (i, len(runs), case_name(case),
                                              time.time() - started), flush=True)
        row = run_case(case, warmup, timed, log_dir, echo=lambda s: print(s, flush=True))
        merge_repeat(rows, row)
        # What has run so far, in case the run is stopped (complete: false until the end).
        atomic_io.write_text(args.json, json.dumps(dict(machine=machine, peaks=peaks, rows=rows,
                                                        complete=False), indent=1) + "\n")
        print("      -> " + ("%.1f ms/step (%.0f-%.0f), %.0f s" % (
            row["ms_per_step"], row["ms_min"], row["ms_max"], row["wall_sec"]) if row["ok"]
            else "FAILED: " + row["error"]), flush=True)
    add_peak_fraction(rows, peaks)
    speedups, overheads, scaling = derived(rows)
    result = dict(machine=machine, peaks=peaks, warmup_steps=warmup, timed_steps=timed,
                  repeats=max(1, args.repeats),
                  quick=args.quick, rows=rows, speedups=speedups, overheads=overheads,
                  scaling=scaling, targets=targets(rows, speedups, overheads, machine),
                  duration_sec=time.time() - started, complete=True,
                  note="timings on shared cores are noisy: compare ratios, rerun before trusting "
                       "a regression")
    base_path = baseline_path(machine) if args.baseline == "auto" else args.baseline
    if os.path.isfile(base_path) and not args.write_baseline:
        with open(base_path) as f:
            baseline = json.load(f)
        lines, regressions = compare_baseline(rows, baseline, args.tolerance)
        result["baseline"] = dict(path=os.path.relpath(base_path, REPO_ROOT),
                                  machine=baseline.get("machine", {}).get("cpu"), lines=lines,
                                  regressions=regressions, tolerance=args.tolerance)
    elif not args.write_baseline:
        result["baseline"] = dict(path=os.path.relpath(base_path, REPO_ROOT), missing=True)
    text = json.dumps(result, indent=1, sort_keys=True)
    atomic_io.write_text(args.json, text + "\n")
    if args.write_baseline:
        os.makedirs(os.path.dirname(os.path.abspath(base_path)), exist_ok=True)
        atomic_io.write_text(base_path, text + "\n")
        print("bench: wrote the baseline %s" % os.path.relpath(base_path, REPO_ROOT))
    print(report(result), flush=True)
    print("\nbench: %d cases in %.0f s; JSON: %s" % (len(rows), time.time() - started, args.json))
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
