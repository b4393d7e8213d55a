"""End to end: a tiny MLP trained through run config, estimator, loss scaling, hooks, results JSON
and the delivery script; its loss must fall and its accuracy must be real."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO_ROOT, platform_runs, python_env

SCRIPT = textwrap.dedent("""\
    #!/bin/bash
    source "{delivery}"
    Network=TinyMLP RUN_KIND=acc EXTRA_FLAGS="overflow_at_step"
    batch_size=32 train_steps=80 learning_rate=0.01 iterations_per_loop=10
    delivery_parse_args "$@"
    delivery_run "$PYTHON" "{entry}" --output_dir="$output_path" --batch_size=$batch_size \\
        --train_steps=$train_steps --learning_rate=$learning_rate \\
        ${{overflow_at_step:+--overflow_at_step=$overflow_at_step}}
    """)


def run_delivery(tmp_path, *args):
    model = tmp_path / "TinyMLP"
    (model / "test").mkdir(parents=True, exist_ok=True)
    (model / "test" / "train_full_1p.sh").write_text(SCRIPT.format(
        delivery=os.path.join(REPO_ROOT, "common", "scripts", "delivery.sh"),
        entry=os.path.join(REPO_ROOT, "test", "fixtures", "tiny_mlp.py")))
    env = python_env({"PYTHON": sys.executable})
    proc = subprocess.run(["bash", "test/train_full_1p.sh"] + list(args), cwd=model, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc, model / "test" / "output" / "0"


@pytest.mark.parametrize("precision, loss_scale", [("force_fp32", "0"),
                                                   ("allow_mix_precision", None)])
def test_tiny_mlp_through_delivery_script(tmp_path, precision, loss_scale):
    args = ["--device=cpu", "--precision_mode=%s" % precision]
    if loss_scale is not None:
        args.append("--loss_scale=%s" % loss_scale)
    proc, out = run_delivery(tmp_path, *args)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((out / "results_acc.json").read_text())
    losses = [loss for _, loss in results["loss_history"]]
    assert [s for s, _ in results["loss_history"]] == [0, 10, 20, 30, 40, 50, 60, 70, 79]
    assert losses[-1] < 0.3 * losses[0]                    # it learned
    assert results["precision_metric"]["value"] > 0.9      # 3 separable blobs
    assert results["steps_run"] == 80 and results["global_step"] == 80
    assert results["timing_skipped_steps"] == 5 and results["ms_per_step"] > 0
    # Mixed precision must really be bf16 wherever this CPU and TensorFlow run the rewrite.
    mixed = precision != "force_fp32" and platform_runs("bf16_rewrite")
    assert results["precision"].startswith("bf16" if mixed else "fp32"), results["precision"]
    if loss_scale == "0":      # the originals' 0 = dynamic, Ascend's initial scale 2**32
        assert "loss_scale = 4.29497e+09" in proc.stdout
    else:                      # default: off where it does nothing (fp32, bf16)
        assert "loss_scale = " not in proc.stdout and "loss scale: off" in proc.stdout
    assert "Final Overflow Steps : 0 (0 in the timed window)" in proc.stdout
    assert "Final Precision Accuracy : " in proc.stdout
    assert (out / "ckpt_acc" / "checkpoint").exists()
    assert (out / "TinyMLP_bs32_1p_acc.log").exists()
    # what decides a comparison with another run, as it really was
    import numpy as np
    import tensorflow.compat.v1 as tf
    fp = results["fingerprint"]
    assert fp["versions"]["tensorflow"] == tf.VERSION
    assert fp["versions"]["numpy"] == np.__version__
    assert fp["precision"]["ran"] == results["precision"]
    assert fp["flags"]["learning_rate"] == 0.01 and fp["flags"]["precision_mode"] == precision
    assert fp["seed"] == 12345 and len(fp["harness"]["commit"]) == 40
    assert fp["environment"]["TF_ENABLE_ONEDNN_OPTS"] == os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1")


def test_resume_says_what_it_does_and_counts_the_steps_it_ran(tmp_path):
    output = tmp_path / "my run"
    first, _ = run_delivery(tmp_path, "--device=cpu", "--precision_mode=force_fp32",
                            "--train_steps=20", "--output_path=%s" % output)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "training 20 steps from randomly initialised weights" in first.stdout
    more, out = run_delivery(tmp_path, "--device=cpu", "--precision_mode=force_fp32",
                             "--train_steps=50", "--output_path=%s" % output)
    assert more.returncode == 0, more.stderr[-2000:]
    assert "resuming from step 20 in %s; 30 steps to go" % output in more.stdout
    assert "Final Training Steps : 30" in more.stdout
    results = json.loads((out / "results_acc.json").read_text())
    assert results["steps_run"] == 30 and results["first_step"] == 20
    assert results["global_step"] == 50
    again, _ = run_delivery(tmp_path, "--device=cpu", "--precision_mode=force_fp32",
                            "--train_steps=50", "--output_path=%s" % output)
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error: already at step 50 in %s" % output)
    assert len(again.stderr.strip().splitlines()) == 1
    assert json.loads((out / "results_acc.json").read_text()) == results   # nothing lost


def test_profiling_off_ascend_writes_chrome_traces_and_the_input_split(tmp_path):
    proc, out = run_delivery(tmp_path, "--device=cpu", "--precision_mode=force_fp32",
                             "--train_steps=20", "--profiling=True", "--autotune=True")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "autotune: no effect off Ascend" in proc.stdout
    traces = sorted((out / "ckpt_acc" / "profiling").glob("timeline-*.json"))
    assert [t.name for t in traces] == ["timeline-5.json", "timeline-6.json", "timeline-7.json"]
    events = json.loads(traces[0].read_text())["traceEvents"]
    assert any("MatMul" in str(e.get("args", {}).get("op", e.get("name"))) for e in events)
    line = [l for l in proc.stdout.splitlines() if l.startswith("profiling: 3 steps traced")][0]
    wall = float(line.split(": ")[2].split(" ms per step")[0])
    wait = float(line.split("input wait ")[1].split(" ms")[0])
    assert 0 <= wait <= wall and wall > 0
