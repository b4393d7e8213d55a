"""Dumps through TensorFlow's debugger and where two runs diverge, end to end: tiny BERT runs in
fp32 and mixed precision compared tensor by tensor without a false divergence, planted faults (a
perturbed weight, a swapped activation) located at the op where they enter, and --over_dump naming
the op where an Inf first arose."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common import checkpoint_utils, compare_tensors, demo_data
from conftest import REPO_ROOT, final_block, platform_runs, python_env
from test_bert_training import TEST_CONFIG
from test_e2e_tiny import run_delivery

PERTURBED = "bert/encoder/layer_1/attention/self/query/kernel"


def bert_command(out, config, *extra):
    data = demo_data.prepare("bert_pretrain")
    return [sys.executable, os.path.join(REPO_ROOT, "Bert_base", "run_pretraining.py"),
            "--bert_config_file=" + config, "--input_file=%s/train.tfrecord" % data,
            "--vocab_file=%s/vocab.txt" % data, "--output_dir=" + out, "--do_train",
            "--train_batch_size=8", "--num_train_steps=1", "--num_warmup_steps=1",
            "--learning_rate=1e-3", "--iterations_per_loop=1", "--device=cpu",
            "--data_dump_flag", "--data_dump_step=0",
            # the model's forward and backward ops, not the optimizer's: a third of the volume
            "--data_dump_filter=^(gradients/)?(bert|cls)/"] + list(extra)


def run_all(commands):
    """Runs the commands two at a time (start-up dominates a one-step run)."""
    for i in range(0, len(commands), 2):
        batch = [subprocess.Popen(c, cwd=REPO_ROOT, env=python_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for c in commands[i:i + 2]]
        for p in batch:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err[-3000:]


@pytest.fixture(scope="module")
def bert_dumps(tmp_path_factory):
    root = tmp_path_factory.mktemp("dumps")
    gelu, relu = root / "gelu.json", root / "relu.json"
    # randomness fixed as Ascend's procedure asks: no dropout (on TF 1.15 a changed graph also
    # changes the op-level seeds, so the relu run's dropout masks would differ from the start)
    config = dict(TEST_CONFIG, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    gelu.write_text(json.dumps(config))
    relu.write_text(json.dumps(dict(config, hidden_act="relu")))
    run = {name: str(root / name) for name in ("fp32", "mixed", "relu", "perturbed")}
    run_all([bert_command(run["fp32"], str(gelu), "--precision_mode=force_fp32"),
             bert_command(run["mixed"], str(gelu), "--precision_mode=allow_mix_precision")])
    # The faults start from the fp32 run's initial weights (on TF 1.15 a changed graph would
    # initialise differently): the activation swapped, or one kernel perturbed by noise of its
    # own scale.
    import tensorflow.compat.v1 as tf
    reader = tf.train.load_checkpoint(os.path.join(run["fp32"], "model.ckpt-0"))
    weights = {n: reader.get_tensor(n) for n, _ in tf.train.list_variables(run["fp32"])
               if n.startswith(("bert/", "cls/")) and "adam" not in n}
    checkpoint_utils.write_checkpoint(str(root / "init" / "model.ckpt"), weights)
    w = weights[PERTURBED]
    weights[PERTURBED] = w + np.random.RandomState(0).normal(0, w.std(), w.shape).astype(w.dtype)
    checkpoint_utils.write_checkpoint(str(root / "perturbed_init" / "model.ckpt"), weights)
    run_all([bert_command(run["relu"], str(relu), "--precision_mode=force_fp32",
                          "--init_checkpoint=%s" % (root / "init" / "model.ckpt")),
             bert_command(run["perturbed"], str(gelu), "--precision_mode=force_fp32",
                          "--init_checkpoint=%s" % (root / "perturbed_init" / "model.ckpt"))])
    return run


def compare(base, test):
    proc = subprocess.run([sys.executable, "-m", "common.compare_tensors",
                           "--base=%s/data_dump" % base, "--test=%s/data_dump" % test],
                          cwd=REPO_ROOT, env=python_env(), capture_output=True, text=True,
                          timeout=300)
    summary_path = os.path.join(test, "data_dump", "step_0", "tensor_compare.json")
    summary = json.load(open(summary_path)) if os.path.exists(summary_path) else None
    return proc, summary


def test_dump_index_describes_the_step_it_holds(bert_dumps):
    folder = os.path.join(bert_dumps["mixed"], "data_dump", "step_0")
    index = json.load(open(os.path.join(folder, "index.json")))
    ops = {t["op"]: t for t in index["tensors"]}
    assert index["step"] == 0 and index["mode"] == "output"
    # forward activations and gradients, in execution order, as the files say
    attention = "bert/encoder/layer_0/attention/self/Softmax"
    assert attention in ops and "gradients/bert/encoder/layer_0/attention/self/Softmax_grad/mul" in ops
    assert [t["order"] for t in index["tensors"]] == list(range(len(index["tensors"])))
    softmax = np.load(os.path.join(folder, ops[attention]["file"]))
    assert list(softmax.shape) == ops[attention]["shape"]
    np.testing.assert_allclose(softmax.sum(-1), 1.0, rtol=2e-2)     # a real softmax
    mixed = platform_runs("bf16_rewrite")
    assert (ops["bert/encoder/layer_0/attention/self/query/BiasAdd"]["dtype"] == "bfloat16") == mixed
    assert not any(op.startswith("AdamWeightDecayOptimizer/") for op in ops)    # the filter


def test_fp32_and_mixed_precision_show_no_false_divergence(bert_dumps):
    proc, summary = compare(bert_dumps["fp32"], bert_dumps["mixed"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "NO DIVERGENCE" in proc.stdout and summary["first_divergence"] is None
    assert summary["compared"] > 400
    if platform_runs("bf16_rewrite"):
        # the drift is real (bf16 keeps 8 bits) and the report says so, without calling it one
        rows = list(open(os.path.join(bert_dumps["mixed"], "data_dump", "step_0",
                                      "tensor_compare.csv")))
        assert summary["status_counts"]["noise"] > 0 and len(rows) == summary["compared"] + 1


def test_swapped_activation_is_located_where_the_graphs_part(bert_dumps):
    proc, summary = compare(bert_dumps["fp32"], bert_dumps["relu"])
    assert proc.returncode == 1, proc.stdout[-3000:]
    first = summary["first_divergence"]
    # the first op both graphs share after the activation (the output dense, fused or not, or the
    # residual add it feeds), which reads the activation only the base run has
    assert first["op"].startswith("bert/encoder/layer_0/") and "intermediate" not in first["op"], first
    assert "attention" not in first["op"] and summary["layer"] == "bert/encoder/layer_0"
    assert any(n.startswith("bert/encoder/layer_0/intermediate/dense/")
               for n in summary["first_divergence_unmatched_inputs"]), summary
    assert summary["precision_class"] == "32-bit" and summary["error_tolerance"] == 1e-3
    assert "FIRST DIVERGENCE: bert/encoder/layer_0/" in proc.stdout


def test_perturbed_weight_is_located_at_its_read(bert_dumps):
    proc, summary = compare(bert_dumps["fp32"], bert_dumps["perturbed"])
    assert proc.returncode == 1, proc.stdout[-3000:]
    first = summary["first_divergence"]
    assert first["op"].startswith(PERTURBED.rsplit("/", 1)[0]) or \
        first["op"].startswith("bert/encoder/layer_1/attention/self/query/MatMul/"), first
    assert first["op_type"] in ("ReadVariableOp", "Identity")
    assert summary["layer"] == "bert/encoder/layer_1"


def test_over_dump_names_the_op_where_inf_first_arose(tmp_path):
    proc, out = run_delivery(tmp_path, "--device=cpu", "--precision_mode=force_fp32",
                             "--loss_scale=1", "--over_dump=True", "--train_steps=6",
                             "--iterations_per_loop=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no step had a NaN/Inf tensor" in proc.stdout      # no fault: nothing kept
    proc, out = run_delivery(tmp_path, "--device=cpu", "--precision_mode=force_fp32",
                             "--loss_scale=1", "--over_dump=True", "--train_steps=6",
                             "--iterations_per_loop=1", "--overflow_at_step=3",
                             "--output_path=%s" % (tmp_path / "planted"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    block = final_block(proc.stdout)
    assert block["Final Overflow Steps"].startswith("1 ")
    note = [l for l in proc.stdout.splitlines() if l.startswith("note: over_dump:")]
    assert note and "the first at step 3 arose at gradients/IdentityN_grad/planted_overflow:0 (Exp)" \
        in note[0], note
    results = json.loads((out / "results_acc.json").read_text())
    [found] = results["tensor_dumps"]["overflow_dumps"]
    assert found["step"] == 3 and found["op"].endswith("planted_overflow")
    assert found["dump"] == "over_dump/step_3"                   # relative: the folder is moved
    dump = os.path.join(str(tmp_path / "planted"), found["dump"])
    index = json.load(open(os.path.join(dump, "index.json")))
    tensors = {t["op"]: t for t in index["tensors"]}
    origin = tensors[found["op"]]
    values = np.load(os.path.join(dump, origin["file"]))
    assert np.isinf(values).any()
    for name in origin["inputs"]:        # what it read was finite: the Inf arose in this op
        op = name.rsplit(":", 1)[0]
        assert np.isfinite(np.load(os.path.join(dump, tensors[op]["file"]))).all()
    assert not os.path.exists(os.path.join(os.path.dirname(dump), "step_2"))


def test_bad_dump_flags_are_refused_before_anything_runs(tmp_path):
    from common import npu_runconfig
    from test_runconfig import fake_flags
    for flags, words in ((dict(data_dump_flag=True), "--data_dump_step"),
                         (dict(data_dump_flag=True, data_dump_step="0", data_dump_filter="(("),
                          "--data_dump_filter is not a regular expression"),
                         (dict(data_dump_flag=True, data_dump_step="0", over_dump=True),
                          "cannot both be on")):
        with pytest.raises(npu_runconfig.UsageError, match=words):
            npu_runconfig.Runtime(fake_flags(**flags))
    # through the delivery script: the flag reaches the entry point, whose error is one line
    proc, out = run_delivery(tmp_path, "--device=cpu", "--data_dump_flag=True",
                             "--data_dump_step=0", "--data_dump_filter=((")
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert proc.returncode != 0 and len(errors) == 1 and "--data_dump_filter" in errors[0]
    assert not (out / "results_acc.json").exists()
