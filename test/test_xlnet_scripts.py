"""XLNet's delivery scripts and the original's startup/ aliases print a real Final block."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, final_block, python_env


@pytest.fixture
def device_id():
    name = "pytest-xlnet-%d" % os.getpid()
    yield name
    shutil.rmtree(os.path.join(REPO_ROOT, "XLNet", "test", "output", name), ignore_errors=True)


def test_startup_alias_runs_the_performance_script(device_id):
    env = python_env({"ASCEND_DEVICE_ID": device_id, "PYTHON": sys.executable})
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "XLNet", "startup",
                                                "run_performance_1p.sh"),
                           "--train_steps=12", "--iterations_per_loop=4", "--batch_size=8",
                           "--precision_mode=force_fp32"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "EMBEDDED DEMO" in proc.stdout
    final = final_block(proc.stdout)
    assert final["Final Training Steps"] == "12"
    assert float(final["Final Performance sentences/sec"]) > 0
    out = os.path.join(REPO_ROOT, "XLNet", "test", "output", device_id)
    assert os.path.isfile(os.path.join(out, "XLNet_for_TensorFlow_bs8_1p_perf.log"))
    log = open(os.path.join(out, "train_perf_%s.log" % device_id)).read()
    assert "] | gnorm " in log           # the original's step line, which common.compare reads


def test_pretraining_script_prints_a_final_block(device_id):
    """The embedded pretraining records (built once), the original's step lines, which
    common.compare reads."""
    from common import loss_log
    env = python_env({"ASCEND_DEVICE_ID": device_id, "PYTHON": sys.executable})
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "XLNet", "test",
                                                "train_performance_1p_pretrain.sh"),
                           "--train_steps=8", "--iterations_per_loop=4",
                           "--precision_mode=force_fp32"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "EMBEDDED DEMO (xlnet_pretrain)" in proc.stdout
    final = final_block(proc.stdout)
    assert final["Final Training Steps"] == "8"
    assert float(final["Final Performance ms/step"]) > 0
    out = os.path.join(REPO_ROOT, "XLNet", "test", "output", device_id)
    assert os.path.isfile(os.path.join(out, "XLNet_pretrain_for_TensorFlow_bs16_1p_perf.log"))
    log = open(os.path.join(out, "train_pretrain_perf_%s.log" % device_id)).read()
    steps = [l for l in log.splitlines() if "] | gnorm " in l]
    assert [int(l.split("]")[0].lstrip("[")) for l in steps] == [0, 4, 7]
    parsed = loss_log.parse_log_text("\n".join(steps))
    assert list(parsed.loss) == [0, 4, 7]
