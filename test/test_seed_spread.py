"""Several runs per side in common.compare (seed-to-seed spread) and the delivery scripts'
--repeat_seeds, which makes them."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from common import compare
from conftest import REPO_ROOT, python_env
from test_e2e_tiny import run_delivery


def test_beyond_spread_is_welchs_two_standard_errors():
    base, test = [0.84, 0.86, 0.88], [0.83, 0.85, 0.86]
    mb, sb, mt, st, ratio, beyond = compare.beyond_spread(base, test)
    se = math.sqrt(np.var(base, ddof=1) / 3 + np.var(test, ddof=1) / 3)
    assert (mb, mt) == pytest.approx((np.mean(base), np.mean(test)))
    assert sb == pytest.approx(np.std(base, ddof=1)) and ratio == pytest.approx(abs(mt - mb) / se)
    assert beyond is False
    assert compare.beyond_spread(base, [0.70, 0.71, 0.72])[5] is True
    one = compare.beyond_spread(base, [0.70])          # one run borrows the other side's spread
    assert one[3] == pytest.approx(np.std(base, ddof=1)) and one[5] is True
    assert compare.beyond_spread([0.8], [0.7])[4] is None


def write_run(path, losses, acc):
    path.write_text(json.dumps({"loss_history": [[i, l] for i, l in enumerate(losses)],
                                "precision_metric": {"name": "Accuracy", "value": acc}}))
    return str(path)


def test_compare_with_seeds_on_each_side(tmp_path):
    rng = np.random.RandomState(0)
    curve = np.linspace(5, 2, 30)
    side = {}
    for label, shift, accs in (("a", 0.0, (0.84, 0.86, 0.88)), ("b", 0.0, (0.85, 0.86, 0.87)),
                               ("c", 0.5, (0.70, 0.71, 0.72))):
        side[label] = ",".join(write_run(tmp_path / ("%s%d.json" % (label, i)),
                                         curve + shift + rng.normal(0, 0.02, 30), acc)
                               for i, acc in enumerate(accs))
    same = subprocess.run([sys.executable, "-m", "common.compare", "--base=" + side["a"],
                           "--test=" + side["b"], "--rtol=0.05"], cwd=REPO_ROOT, env=python_env(),
                          capture_output=True, text=True, timeout=60)
    assert same.returncode == 0, same.stderr
    assert "### Seed-to-seed spread (3 base runs, 3 test runs)" in same.stdout
    assert "Final Accuracy: base 0.8600 (sd 0.02), test 0.8600 (sd 0.01)" in same.stdout
    assert "within the seed-to-seed spread" in same.stdout
    assert "mean over 3 runs" in same.stdout
    worse = subprocess.run([sys.executable, "-m", "common.compare", "--base=" + side["a"],
                            "--test=" + side["c"]], cwd=REPO_ROOT, env=python_env(),
                           capture_output=True, text=True, timeout=60)
    assert worse.returncode == 1 and "BEYOND the seed-to-seed spread" in worse.stdout
    missing = subprocess.run([sys.executable, "-m", "common.compare", "--base=%s,%s" % (
        side["a"].split(",")[0], tmp_path / "nope.json"), "--test=" + side["b"]], cwd=REPO_ROOT,
        env=python_env(), capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "--base: " in missing.stderr and "nope.json" in missing.stderr


def test_repeat_seeds_runs_each_seed_into_its_own_folder(tmp_path):
    proc, out = run_delivery(tmp_path, "--device=cpu", "--precision_mode=force_fp32",
                             "--train_steps=12", "--repeat_seeds=2", "--seed=7")
    assert proc.returncode == 0, proc.stderr[-2000:]
    root = out.parent            # <Model>/test/output
    for seed in (7, 8):
        results = json.loads((root / ("seed_%d" % seed) / "0" / "results_acc.json").read_text())
        assert results["fingerprint"]["seed"] == seed
    assert "=== 2 seeds:" in proc.stdout and "python -m common.compare --base=%s" % (
        root / "seed_7" / "0") in proc.stdout
    assert not out.exists()            # nothing in the unnumbered folder
    bad, _ = run_delivery(tmp_path, "--repeat_seeds=2", "--output_path=%s" % tmp_path)
    assert bad.returncode == 1 and "--repeat_seeds needs the default output folders" in bad.stderr
