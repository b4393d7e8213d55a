"""`make bench` pieces: the analytic FLOP counts (bench/flops.py) against a hand count and against
the matrix products of the models' real graphs, and the bench's JSON on a 2-step tiny run."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from bench import flops, run as bench_run
from conftest import REPO_ROOT, python_env

BERT_SMALL = {"hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 8, "vocab_size": 10, "type_vocab_size": 2,
              "max_position_embeddings": 8, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
              "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02}


def test_bert_flops_hand_count():
    # batch 2, seq 3, 1 prediction per sequence: 6 tokens, 2 predictions; every term written out.
    qkvo = 4 * (2 * 6 * 4 * 4)          # four [6,4]x[4,4] projections
    attention = 2 * (2 * 2 * 3 * 3 * 4)  # scores and context: B * S * S * H multiply-adds each
    ffn = 2 * 6 * 4 * 8 + 2 * 6 * 8 * 4
    token_type = 2 * 6 * 2 * 4
    pooler_nsp = 2 * 2 * 4 * 4 + 2 * 2 * 4 * 2
    mlm = 2 * 2 * 4 * 4 + 2 * 2 * 4 * 10
    forward = qkvo + attention + ffn + token_type + pooler_nsp + mlm
    assert forward == 2240
    assert flops.bert_forward(BERT_SMALL, 2, 3, 1) == forward
    assert flops.training_step(forward) == 3 * forward


def test_resnext50_flops_match_the_published_count():
    # ResNeXt-50 32x4d: 4.26 GMACs per 224x224 image (the ResNeXt paper, torchvision's 4.23 G).
    with open(os.path.join(REPO_ROOT, "configs", "resnext50.json")) as f:
        config = json.load(f)
    per_image = flops.resnext_forward(config, 1, 224, 1000) / 2
    assert 4.20e9 < per_image < 4.30e9


def _graph_matmul_flops(graph):
    """2 * multiply-adds of every MatMul / BatchMatMul / Conv2D / Einsum in a graph (static
    shapes): an independent count from what the model code really builds."""
    total = 0.0
    for op in graph.get_operations():
        shapes = [t.shape.as_list() for t in op.inputs]
        out = op.outputs[0].shape.as_list() if op.outputs else None
        if op.type == "MatMul":
            a, b = shapes
            k = a[0] if op.get_attr("transpose_a") else a[1]
            total += 2.0 * np.prod(out) * k
        elif op.type in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
            a = shapes[0]
            adj = op.get_attr("adj_x")
            total += 2.0 * np.prod(out) * (a[-2] if adj else a[-1])
        elif op.type == "Conv2D":
            kernel = shapes[1]
            total += 2.0 * np.prod(out) * kernel[0] * kernel[1] * kernel[2]
        elif op.type == "Einsum":
            equation = op.get_attr("equation").decode()
            sizes = {}
            for spec, shape in zip(equation.split("->")[0].split(","), shapes):
                sizes.update(zip(spec, shape))
            total += 2.0 * np.prod(list(sizes.values()))
    return total


def _bert_like_graph(build):
    graph = tf.Graph()
    with graph.as_default():
        ids = tf.zeros([2, 16], tf.int32)
        build(ids)
    return graph


def test_bert_and_albert_flops_match_their_graphs():
    from Bert_base import modeling as bert
    from Albert import modeling as albert
    from common import transformer
    config = dict(BERT_SMALL, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                  num_hidden_layers=2, vocab_size=50, max_position_embeddings=16)

    def build_bert(ids):
        model = bert.BertModel(bert.BertConfig.from_dict(config), False, ids, ids, ids)
        positions = tf.zeros([2, 3], tf.int32)
        transformer.masked_lm_output(model.get_sequence_output(), model.get_embedding_table(),
                                     positions, positions, tf.ones([2, 3]), 32)
        transformer.next_sentence_output(model.get_pooled_output(), tf.zeros([2], tf.int32), 32)
    assert _graph_matmul_flops(_bert_like_graph(build_bert)) == flops.bert_forward(config, 2, 16, 3)

    aconfig = dict(config, embedding_size=8, inner_group_num=1, num_hidden_groups=1,
                   down_scale_factor=1)

    def build_albert(ids):
        cfg = albert.AlbertConfig.from_dict(aconfig)
        model = albert.AlbertModel(cfg, False, ids, ids, ids)
        positions = tf.zeros([2, 3], tf.int32)
        albert.get_masked_lm_output(cfg, model, positions, positions, tf.ones([2, 3]))
        albert.get_sentence_order_output(cfg, model, tf.zeros([2], tf.int32))
    assert _graph_matmul_flops(_bert_like_graph(build_albert)) == \
        flops.albert_forward(aconfig, 2, 16, 3)


def test_resnext_flops_match_the_graph():
    from ResNext50 import modeling
    with open(os.path.join(REPO_ROOT, "configs", "resnext_tiny.json")) as f:
        config = json.load(f)
    graph = tf.Graph()
    with graph.as_default():
        modeling.resnext_logits(tf.zeros([2, 64, 64, 3]), 10, False,
                                modeling.ResNextConfig.from_dict(config), group_conv_impl="split")
    assert _graph_matmul_flops(graph) == flops.resnext_forward(config, 2, 64, 10)


def test_derived_rows_and_baseline_regressions():
    def row(precision, inp, ms, batch=8, role="main"):
        r = dict(model="Bert_base", size="standard", precision=precision, input=inp,
                 batch=batch, seq=128, role=role, ok=True, ms_per_step=ms, tflop_per_step=0.5,
                 precision_ran="bf16 auto-mixed-precision (cpu)" if precision == "mixed"
                 else "fp32")
        r["name"] = bench_run.case_name(r)
        return r
    rows = [row("fp32", "synthetic", 4000), row("mixed", "synthetic", 2000),
            row("fp32", "real", 4400), row("fp32", "synthetic", 8800, batch=16, role="scaling")]
    speedups, overheads, scaling = bench_run.derived(rows)
    assert [round(s["speedup"], 3) for s in speedups] == [2.0]
    assert [round(o["overhead"], 3) for o in overheads] == [0.1]
    assert len(scaling) == 1 and round(scaling[0]["ratio"], 3) == 1.1
    lines, regressions = bench_run.compare_baseline(rows[:2], {"rows": [
        dict(rows[0], ms_per_step=3000), dict(rows[1], ms_per_step=2000)]}, 0.15)
    assert regressions == [rows[0]["name"]] and len(lines) == 2


def test_each_committed_baseline_is_found_for_its_own_cpu():
    # `make bench` compares with the baseline of the CPU it runs on (times on another CPU are not
    # comparable): each committed file must sit at the path its own machine record maps to.
    paths = sorted(glob.glob(os.path.join(REPO_ROOT, "bench", "baselines", "*.json")))
    assert paths
    for path in paths:
        with open(path) as f:
            baseline = json.load(f)
        assert bench_run.baseline_path(baseline["machine"]) == path
        assert baseline["complete"] and all(r["ok"] for r in baseline["rows"])
    other = bench_run.baseline_path({"cpu": "Some CPU", "isa": "AVX2 only"})
    assert other.endswith(os.path.join("bench", "baselines", "some-cpu-avx2-only.json"))


def test_a_cpu_without_a_baseline_is_told_so():
    path = sorted(glob.glob(os.path.join(REPO_ROOT, "bench", "baselines", "*.json")))[0]
    with open(path) as f:
        result = json.load(f)
    result["baseline"] = dict(path="bench/baselines/some-cpu.json", missing=True)
    text = bench_run.report(result)
    assert "no baseline bench/baselines/some-cpu.json: --write_baseline writes" in text
    assert "regressions" not in text


def test_bench_json_on_a_tiny_run(tmp_path):
    out = tmp_path / "bench.json"
    baseline = tmp_path / "baseline.json"
    name = "Bert_base/tiny/seq128/bs8/fp32/synthetic"
    baseline.write_text(json.dumps({"machine": {"cpu": "x"}, "rows": [
        {"name": name, "ok": True, "ms_per_step": 1e-3}]}))
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only=^%s$" % name,
                           "--warmup=1", "--steps=1", "--peak_size=128", "--json=%s" % out,
                           "--baseline=%s" % baseline], cwd=REPO_ROOT, env=python_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    result = json.loads(out.read_text())
    assert result["machine"]["cpu"] and "isa_flags" in result["machine"]
    assert result["peaks"]["float32"]["best_gflops"] > 0
    (row,) = result["rows"]
    assert row["name"] == name and row["timed_steps"] == 1
    for field in ("ms_per_step", "ms_min", "ms_max", "samples_per_sec", "tflops",
                  "fraction_of_peak", "peak_rss_mib"):
        assert row[field] > 0, field
    assert row["samples_per_sec"] == pytest.approx(8000.0 / row["ms_per_step"])
    assert {t["target"] for t in result["targets"]} >= {"BERT-base mixed speedup over fp32"}
    assert result["baseline"]["regressions"] == [name]   # a baseline 1 us/step is "faster"
    assert "ms/step" in proc.stdout and "regressions" in proc.stdout


def test_xlnet_flops_match_the_graph():
    from XLNet import function_builder, modeling
    with open(os.path.join(REPO_ROOT, "configs", "xlnet_tiny.json")) as f:
        config = json.load(f)
    bsz, seq, mem, pred = 2, 8, 4, 3
    graph = tf.Graph()
    with graph.as_default():
        features = {"input_k": tf.zeros([bsz, seq], tf.int32),
                    "input_q": tf.zeros([bsz, seq]), "seg_id": tf.zeros([bsz, seq], tf.int32),
                    "perm_mask": tf.zeros([bsz, seq, seq]),
                    "target_mapping": tf.zeros([bsz, pred, seq]),
                    "target": tf.zeros([bsz, pred], tf.int32), "target_mask": tf.ones([bsz, pred])}
        run_config = modeling.create_run_config(False, False, mem_len=mem, reuse_len=seq // 2,
                                                bi_data=True)
        xconfig = modeling.XLNetConfig.from_dict(config)
        mems = function_builder.memory_variables(xconfig.n_layer, mem, bsz, xconfig.d_model)
        function_builder.two_stream_loss(xconfig, run_config, features, mems)
    counted = _graph_matmul_flops(graph)
    # The analytic count leaves out the sinusoid outer product of the position embedding.
    assert counted == pytest.approx(flops.xlnet_forward(config, bsz, seq, mem, pred), rel=0.01)


def test_make_bench_runs_the_bench_and_make_test_does_not():
    def dry_run(*args):
        return subprocess.run(["make", "-n", "--no-print-directory"] + list(args), cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, universal_newlines=True, timeout=60).stdout
    assert "-m bench --quick" in dry_run("bench", "BENCH=quick")
    full = dry_run("bench")
    assert "-m bench" in full and "--quick" not in full
    assert "-m bench" not in dry_run("test")


def test_synthetic_input_repeats_the_first_batch_and_keeps_params():
    import types
    from common import synthetic_input
    seen = []

    def input_fn(params):
        seen.append(params)
        return tf.data.Dataset.range(10).batch(3)

    off = types.SimpleNamespace(synthetic_data=False)
    assert synthetic_input.maybe_synthetic(input_fn, off) is input_fn
    wrapped = synthetic_input.maybe_synthetic(input_fn, types.SimpleNamespace(synthetic_data=True))
    graph = tf.Graph()
    with graph.as_default():
        batch = tf.data.make_one_shot_iterator(wrapped({"batch_size": 3})).get_next()
        with tf.Session() as sess:
            batches = [list(sess.run(batch)) for _ in range(5)]
    assert batches == [[0, 1, 2]] * 5 and seen == [{"batch_size": 3}]
    # An input_fn without `params` (Estimator then passes none) is called without it.
    no_params = synthetic_input.synthetic(lambda: tf.data.Dataset.range(4))
    with tf.Graph().as_default():
        first = tf.data.make_one_shot_iterator(no_params()).get_next()
        with tf.Session() as sess:
            assert [sess.run(first) for _ in range(3)] == [0, 0, 0]
