"""Two workers on 127.0.0.1 through common/launcher.py and TensorFlow's collective runtime
(test/fixtures/multiworker_tiny.py: a tiny BERT classifier, AdamWeightDecay, clipping)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, python_env

FIXTURE = os.path.join(REPO_ROOT, "test", "fixtures", "multiworker_tiny.py")
STEPS, BATCH = 6, 4
# Measured (TF 1.15 and 2.15): the 2-worker losses match the 1-worker ones to 6e-8, the weights'
# sums of squares to 3.1e-7 relative (float summation order of the all-reduce); the attention key
# bias (zero gradient in exact arithmetic, ~1e-13 noise) passes on pytest.approx's 1e-12 absolute.
LOSS_TOLERANCE = 1e-5
WEIGHT_TOLERANCE = 1e-5


def launch(args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "common.launcher"] + args, cwd=REPO_ROOT,
                            env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def load(path):
    with open(path) as f:
        return json.load(f)


def test_two_workers_train_as_one_process_at_the_same_global_batch(tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    single = subprocess.run([sys.executable, FIXTURE, one, str(2 * BATCH), str(STEPS)],
                            cwd=str(tmp_path), env=python_env(), capture_output=True, text=True,
                            timeout=240)
    assert single.returncode == 0, single.stderr[-2000:]
    # the 2-worker run starts from the 1-worker run's initial weights (TF 1.15's op seeds
    # depend on the graph, which the strategy changes)
    proc = launch(["--rank_size=2", "--log_dir=%s" % tmp_path, "--", sys.executable, FIXTURE,
                   two, str(BATCH), str(STEPS), "0", os.path.join(one, "model.ckpt-0")])
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    rank0, rank1 = load(os.path.join(two, "rank_0.json")), load(os.path.join(two, "rank_1.json"))
    ref = load(os.path.join(one, "rank_0.json"))
    # one synchronized global step per step, the same count as one process
    assert rank0["global_step"] == rank1["global_step"] == ref["global_step"] == STEPS
    assert len(rank0["losses"]) == len(rank1["losses"]) == STEPS
    # each rank read its own shard; together what the single process read
    seen0, seen1 = rank0["examples_first_token"], rank1["examples_first_token"]
    assert len(seen0) == len(seen1) == STEPS * BATCH
    assert sorted(seen0 + seen1) == sorted(ref["examples_first_token"])
    assert seen0 != seen1
    # identical weights on both workers, and in the chief's checkpoint
    assert rank0["final_weights"] == rank1["final_weights"]
    assert rank0["checkpoint_checksums"] == rank0["final_weights"]
    assert rank0["checkpoint"].startswith(two)
    # the job's loss (mean of the ranks') follows the 1-process curve
    for step, (a, b, r) in enumerate(zip(rank0["losses"], rank1["losses"], ref["losses"])):
        assert abs((a + b) / 2 - r) <= LOSS_TOLERANCE, (step, a, b, r)
    assert ref["losses"][0] != ref["losses"][-1]   # it trained
    for name, (total, squares) in ref["final_weights"].items():
        assert rank0["final_weights"][name][1] == pytest.approx(squares, rel=WEIGHT_TOLERANCE), name


def test_killing_one_worker_stops_the_job_within_30_s(tmp_path):
    proc = launch(["--rank_size=2", "--log_dir=%s" % tmp_path, "--", sys.executable, FIXTURE,
                   str(tmp_path / "ckpt"), "2", "1000", "0.2"], start_new_session=True)
    pids = {}
    deadline = time.time() + 180
    while len(pids) < 2 and time.time() < deadline and proc.poll() is None:
        for rank in (0, 1):
            log = tmp_path / ("rank_%d.log" % rank)
            if log.exists():
                for line in log.read_text(errors="replace").splitlines():
                    if line.startswith("rank %d pid " % rank):
                        pids[rank] = int(line.split()[3])
        time.sleep(0.5)
    try:
        assert len(pids) == 2, "the ranks did not start training"
        os.kill(pids[1], signal.SIGKILL)
        killed = time.time()
        out, err = proc.communicate(timeout=30)
        assert time.time() - killed < 30
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert "error: rank 1 (device 1 on 127.0.0.1) failed (signal 9)" in err
    for pid in pids.values():   # each rank's group (its leader's pid) is gone: no orphan left
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
