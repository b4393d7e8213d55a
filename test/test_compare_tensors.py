"""common.compare_tensors on hand-made dumps (numpy only): the metrics against direct formulas, the
classification that finds the first divergence (inherited, noise, isolated), Ascend file names,
and the command's outputs and exit codes."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common import compare_tensors as ct
from conftest import REPO_ROOT, python_env


def write_dump(folder, tensors):
    """tensors: [(op, array, inputs, dtype)] in execution order -> a tensor_dump-style folder."""
    os.makedirs(folder, exist_ok=True)
    index = []
    for order, (op, array, inputs, dtype) in enumerate(tensors):
        name = "%05d__%s__0.npy" % (order, op.replace("/", "."))
        np.save(os.path.join(folder, name), np.asarray(array, dtype=np.float32))
        index.append({"op": op, "slot": 0, "order": order, "op_type": "X", "dtype": dtype,
                      "shape": list(np.shape(array)), "inputs": inputs, "file": name})
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump({"step": 0, "tensors": index}, f)
    return str(folder)


def test_metrics_equal_direct_formulas():
    rng = np.random.RandomState(0)
    a = rng.normal(size=(7, 5))
    b = a + rng.normal(scale=0.1, size=a.shape)
    m = ct.tensor_metrics(a, b)
    cosine = np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b))
    assert m["cosine"] == pytest.approx(cosine, rel=1e-12)
    assert m["max_abs"] == pytest.approx(np.max(np.abs(b - a)))
    assert m["err_range"] == pytest.approx(np.max(np.abs(b - a)) / np.max(np.abs(a)))
    big = np.abs(a) >= 1e-3 * np.abs(a).max()
    assert m["max_rel"] == pytest.approx(np.max(np.abs(b - a)[big] / np.abs(a[big])))
    assert ct.tensor_metrics(np.zeros(3), np.zeros(3))["cosine"] == 1.0
    assert ct.tensor_metrics(np.zeros(3), np.ones(3))["cosine"] == 0.0
    nan = ct.tensor_metrics(np.ones(4), np.array([1, np.nan, np.inf, 1.0]))
    assert (nan["nan_test"], nan["inf_test"], nan["nan_base"]) == (1, 1, 0)
    assert ct.divergence_reason(nan, 0.9, 1.0) == "non-finite in test only"
    assert ct.divergence_reason(m, 0.999, 1e-3) is not None             # 10 % noise, 32-bit rules
    assert ct.divergence_reason(m, 0.9, 1.0) is None                     # within 16-bit rules
    shape = ct.tensor_metrics(np.ones((2, 3)), np.ones((3, 2)))
    assert ct.divergence_reason(shape, 0.9, 1.0).startswith("shape [2, 3] vs [3, 2]")


def _chain(perturb=None):
    rng = np.random.RandomState(1)
    x = rng.normal(size=(16, 8))
    w = rng.normal(size=(8, 4))
    if perturb == "w":
        w = w + rng.normal(size=w.shape)
    h = x @ w
    out = np.tanh(h)
    return [("layer_0/x", x, [], "float32"), ("layer_0/w/read", w, [], "float32"),
            ("layer_0/MatMul", h, ["layer_0/x:0", "layer_0/w/read:0"], "float32"),
            ("layer_1/Tanh", out, ["layer_0/MatMul:0"], "float32")]


def test_first_divergence_is_where_a_perturbed_weight_enters(tmp_path):
    base = ct.load_dump(write_dump(tmp_path / "a", _chain()))[1]
    test = ct.load_dump(write_dump(tmp_path / "b", _chain(perturb="w")))[1]
    result = ct.compare_dumps(base, test)
    assert result["first_divergence"]["op"] == "layer_0/w/read"
    assert result["layer"] == "layer_0"
    status = {r["op"]: r["status"] for r in result["rows"]}
    assert status["layer_0/x"] == "ok"
    assert status["layer_0/MatMul"] == "inherited" and status["layer_1/Tanh"] == "inherited"
    same = ct.compare_dumps(base, ct.load_dump(str(tmp_path / "a"))[1])
    assert same["first_divergence"] is None and same["status_counts"]["ok"] == 4


def test_a_divergence_diluted_by_a_residual_is_still_the_first(tmp_path):
    # out = h + big residual: the reader agrees within the (16-bit) thresholds, h diverged all the same
    def run(sign):
        x = np.ones((4, 4))
        h = sign * np.arange(16.0).reshape(4, 4)
        return [("layer_0/x", x, [], "bfloat16"), ("layer_0/h", h, ["layer_0/x:0"], "bfloat16"),
                ("layer_0/out", h + 1e3, ["layer_0/h:0"], "bfloat16")]
    result = ct.compare_dumps(ct.load_dump(write_dump(tmp_path / "a", run(1)))[1],
                              ct.load_dump(write_dump(tmp_path / "b", run(-1)))[1])
    assert result["first_divergence"]["op"] == "layer_0/h"
    assert {r["op"]: r["status"] for r in result["rows"]}["layer_0/out"] == "ok"


def test_a_sum_that_cancels_to_rounding_noise_is_not_a_divergence(tmp_path):
    # d/d(key bias) of attention is 0 in exact arithmetic: each side keeps its own rounding noise
    grad = np.random.RandomState(2).normal(scale=1e-4, size=(1024, 8))
    base = [("g", grad, [], "float32"), ("bias_grad", np.full(8, 3e-13), ["g:0"], "float32"),
            ("update", np.full(8, 3e-13) * 0.1, ["bias_grad:0"], "float32")]
    test = [("g", grad, [], "bfloat16"), ("bias_grad", np.full(8, -4e-8), ["g:0"], "bfloat16"),
            ("update", np.full(8, -4e-9), ["bias_grad:0"], "float32")]
    result = ct.compare_dumps(ct.load_dump(write_dump(tmp_path / "a", base))[1],
                              ct.load_dump(write_dump(tmp_path / "b", test))[1])
    status = {r["op"]: r["status"] for r in result["rows"]}
    assert status == {"g": "ok", "bias_grad": "noise", "update": "noise-derived"}
    assert result["first_divergence"] is None
    # the same values in fp32 on both sides are far above fp32's noise: a real divergence
    test32 = [(op, v, i, "float32") for op, v, i, _ in test]
    result = ct.compare_dumps(ct.load_dump(str(tmp_path / "a"))[1],
                              ct.load_dump(write_dump(tmp_path / "c", test32))[1])
    assert result["first_divergence"]["op"] == "bias_grad"


def test_ascend_npy_names_match_by_normalised_op_name(tmp_path):
    base = write_dump(tmp_path / "tf", _chain())
    ascend = tmp_path / "ascend"
    ascend.mkdir()
    for order, (op, value, _, _) in enumerate(_chain()):
        shape = "x".join(str(d) for d in np.shape(value))     # msaccucmp's names carry the shape
        np.save(ascend / ("MatMul.%s.3.1.%d.output.0.%s.npy" % (op.replace("/", "_"), 1000 + order, shape)),
                np.asarray(value, np.float16))
    np.save(ascend / "MatMul.layer_0_MatMul.3.1.999.input.0.npy", np.zeros(3))  # inputs are skipped
    folder, tensors, kind = ct.load_dump(str(ascend))
    assert kind == "ascend npy" and [t.op for t in tensors][:2] == ["layer_0_x", "layer_0_w_read"]
    result = ct.compare_dumps(ct.load_dump(base)[1], tensors)
    assert len(result["rows"]) == 4 and result["first_divergence"] is None   # fp16 vs fp32 values


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "common.compare_tensors"] + list(args),
                          cwd=REPO_ROOT, env=python_env(), capture_output=True, text=True, timeout=120)


def test_command_table_csv_json_and_exit_codes(tmp_path):
    a = write_dump(tmp_path / "a" / "step_0", _chain())
    b = write_dump(tmp_path / "b" / "step_0", _chain(perturb="w"))
    proc = run_cli("--base=%s" % os.path.dirname(a), "--test=%s" % os.path.dirname(b))
    assert proc.returncode == 1, proc.stderr
    assert "FIRST DIVERGENCE: layer_0/w/read:0 (X) in layer layer_0" in proc.stdout
    summary = json.loads(open(os.path.join(b, "tensor_compare.json")).read())
    assert summary["first_divergence"]["op"] == "layer_0/w/read" and summary["compared"] == 4
    csv_lines = open(os.path.join(b, "tensor_compare.csv")).read().splitlines()
    assert csv_lines[0].startswith("order,op,slot") and len(csv_lines) == 5
    ignored = run_cli("--base=%s" % a, "--test=%s" % b, "--ignore=w/read$|MatMul|Tanh",
                      "--output_dir=%s" % (tmp_path / "out"))
    assert ignored.returncode == 0 and "Compared 1 tensors" in ignored.stdout
    same = run_cli("--base=%s" % a, "--test=%s" % a, "--output_dir=%s" % (tmp_path / "out"))
    assert same.returncode == 0 and "NO DIVERGENCE" in same.stdout
    bad = run_cli("--base=%s" % (tmp_path / "nowhere"), "--test=%s" % a)
    assert bad.returncode == 2 and bad.stderr.strip().endswith("no such folder")
    assert len(bad.stderr.strip().splitlines()) == 1 and "--base" in bad.stderr
    threshold = run_cli("--base=%s" % a, "--test=%s" % a, "--cosine_threshold=2")
    assert threshold.returncode == 2 and "--cosine_threshold" in threshold.stderr
