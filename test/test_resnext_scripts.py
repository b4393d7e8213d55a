"""ResNext50/test/train_*_1p.sh on the embedded demo: the Final block, the CaseName log, bad flags."""
import os
import shutil
import subprocess

import pytest

from conftest import REPO_ROOT, python_env

SCRIPTS = os.path.join(REPO_ROOT, "ResNext50", "test")


@pytest.fixture
def device_id():
    """A device id of its own, so the test never touches the user's test/output/0."""
    device = "pytest-resnext-%d" % os.getpid()
    yield device
    shutil.rmtree(os.path.join(SCRIPTS, "output", device), ignore_errors=True)


def run_script(name, args, device):
    env = python_env({"ASCEND_DEVICE_ID": device})
    return subprocess.run(["bash", os.path.join(SCRIPTS, name)] + args, cwd=REPO_ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)


def test_performance_script_prints_a_real_final_block_for_the_full_resnext50(device_id):
    proc = run_script("train_performance_1p.sh", ["--train_steps=8", "--batch_size=4",
                                                  "--iterations_per_loop=4"], device_id)
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = proc.stdout
    assert "EMBEDDED DEMO" in out and "[digits_embedded_demo]" in out
    assert "ResNeXt ([3, 4, 6, 3] blocks, widths [128, 256, 512, 1024], cardinality 32)" in out
    final = out[out.index("------------------ Final result"):].splitlines()
    assert final[1].startswith("Final Performance images/sec : ")
    assert float(final[1].split(":")[1]) > 0
    assert final[2].startswith("Final Performance ms/step : ")
    log_dir = os.path.join(SCRIPTS, "output", device_id)
    with open(os.path.join(log_dir, "ResNext50_for_TensorFlow_bs4_1p_perf.log")) as f:
        keys = [line.split(" = ")[0] for line in f.read().splitlines()]
    assert keys == ["Network", "RankSize", "BatchSize", "DeviceType", "CaseName", "ActualFPS",
                    "TrainingTime", "ActualLoss", "E2ETrainingTime"]   # batch 4: no demo target holds
    with open(os.path.join(log_dir, "train_perf_%s.log" % device_id)) as f:
        assert "step: 4 epoch: 0.0 FPS:" in f.read()


def test_scripts_reject_bad_flags_in_one_line(device_id, tmp_path):
    proc = run_script("train_full_1p.sh", ["--num_layers=3"], device_id)
    assert proc.returncode == 1 and proc.stdout.strip() == "error: unknown flag --num_layers; valid: --data_path --model_path --output_path --batch_size --train_steps --learning_rate --precision_mode --iterations_per_loop --device --loss_scale --over_dump --data_dump_flag --data_dump_step --data_dump_mode --data_dump_filter --profiling --autotune --target_precision --target_fps --enforce_targets --seed --repeat_seeds --ckpt_path --num_epochs --image_size --num_classes --restore_exclude --preprocessing"
    proc = run_script("train_full_1p.sh", ["--data_path=%s" % (tmp_path / "missing")], device_id)
    assert proc.returncode == 1 and "--data_path=" in proc.stdout and "does not exist" in proc.stdout
    proc = run_script("train_performance_1p.sh", ["--data_path=%s" % tmp_path], device_id)
    assert proc.returncode == 1
    # the last line names the flag the user typed (the entry point calls it --data_url)
    assert proc.stdout.strip().splitlines()[-1] == \
        "error: no TFRecords found for --data_path: nothing matches %s/train-* (expected " \
        "ImageNet-format files like train-00000-of-01024)" % tmp_path
    assert "Final result" not in proc.stdout
