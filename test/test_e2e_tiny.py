"""End to end: a tiny MLP trained through run config, estimator, loss scaling, hooks, results JSON
and the delivery script; its loss must fall and its accuracy must be real."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from common import npu_runconfig
from conftest import REPO_ROOT, python_env

SCRIPT = textwrap.dedent("""\
    #!/bin/bash
    source "{delivery}"
    Network=TinyMLP RUN_KIND=acc
    batch_size=32 train_steps=80 learning_rate=0.01 iterations_per_loop=10
    delivery_parse_args "$@"
    delivery_run "$PYTHON" "{entry}" --output_dir="$output_path" --batch_size=$batch_size \\
        --train_steps=$train_steps --learning_rate=$learning_rate $(delivery_common_flags)
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


@pytest.mark.parametrize("precision", ["force_fp32", "allow_mix_precision"])
def test_tiny_mlp_through_delivery_script(tmp_path, precision):
    proc, out = run_delivery(tmp_path, "--device=cpu", "--precision_mode=%s" % precision)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((out / "results_acc.json").read_text())
    losses = [loss for _, loss in results["loss_history"]]
    assert [s for s, _ in results["loss_history"]] == [0, 10, 20, 30, 40, 50, 60, 70, 79]
    assert losses[-1] < 0.3 * losses[0]                    # it learned
    assert results["precision_metric"]["value"] > 0.9      # 3 separable blobs
    assert results["steps_run"] == 80 and results["global_step"] == 80
    assert results["timing_skipped_steps"] == 5 and results["ms_per_step"] > 0
    # bf16 on TF >= 2.9 with AVX-512 (here: TF 2.15), fp32 on TF 1.15, as the run config resolves
    assert results["precision"] == npu_runconfig.resolve_precision(precision, "cpu")[1]
    assert results["precision"].startswith("fp32" if precision == "force_fp32" else ("bf16", "fp32"))
    assert "loss_scale = 4.29497e+09" in proc.stdout       # dynamic loss scale, Ascend's initial 2**32
    assert "Final Precision Accuracy : " in proc.stdout
    assert (out / "ckpt_acc" / "checkpoint").exists()
    assert (out / "TinyMLP_bs32_1p_acc.log").exists()
