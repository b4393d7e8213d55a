# coding=utf-8
"""Albert end to end: pretraining lowers the loss and exports a clean checkpoint whose names Hugging
Face's load_tf_weights_in_albert maps; checkpoints of both layouts load (eval losses equal the
numpy reference); the delivery scripts print a real Final block, --model_path reads an albert_zh
folder; bad input gives one error line and leaves nothing behind."""
import json
import os
import random
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from Albert import modeling
from albert_reference import albert_forward, pretraining_losses
from common import pretraining_data
from common.demo_data import text
from common.tokenization import FullTokenizer
from conftest import REPO_ROOT, final_block, python_env

SEQ, PRED = 64, 10
TINY = {"vocab_size": 3000, "embedding_size": 32, "hidden_size": 64, "num_hidden_layers": 3,
        "num_hidden_groups": 1, "inner_group_num": 1, "num_attention_heads": 4,
        "intermediate_size": 128, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 128,
        "type_vocab_size": 2, "initializer_range": 0.02, "down_scale_factor": 1}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """SOP TFRecords (jieba whole-word + n-gram masking) of 80 People's Daily articles."""
    folder = tmp_path_factory.mktemp("albert_data")
    documents = text.people_daily_documents()[:80]
    vocab = text.build_vocab((s for doc in documents for s in doc), vocab_size=TINY["vocab_size"],
                             min_cjk_count=1)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    tokenizer = pretraining_data.JiebaWholeWordTokenizer(FullTokenizer(str(vocab_file)))
    docs = [[tokenizer.tokenize(s) for s in doc] for doc in documents]
    instances = pretraining_data.create_training_instances(
        None, tokenizer, SEQ, 2, 0.1, 0.15, PRED, random.Random(1), do_whole_word_mask=True,
        documents=docs, sentence_order=True, ngram=3)
    records = folder / "records"
    records.mkdir()
    pretraining_data.write_instance_to_example_files(
        instances, tokenizer, SEQ, PRED, [str(records / "train.tfrecord")], log_examples=0)
    config_file = folder / "albert_config.json"
    config_file.write_text(json.dumps(TINY))
    return {"records": str(records), "train": str(records / "train.tfrecord"),
            "vocab": str(vocab_file), "config": str(config_file), "folder": folder}


def run_py(script, *args, timeout=600):
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "Albert", script)]
                          + list(args), cwd=REPO_ROOT, env=python_env(), capture_output=True,
                          text=True, timeout=timeout)


def error_lines(proc):
    return [l for l in proc.stderr.strip().splitlines() if l.startswith("error:")]


# ---- Hugging Face's load_tf_weights_in_albert, as its documented renaming rules (facts; torch is
# not installed here, so the loader itself cannot run): TF name -> AlbertForPreTraining parameter.
_HF_RENAMES = [("module/", ""), ("ffn_1", "ffn"), ("bert/", "albert/"), ("attention_1", "attention"),
               ("transform/", ""), ("LayerNorm_1", "full_layer_layer_norm"),
               ("LayerNorm", "attention/LayerNorm"), ("transformer/", ""),
               ("intermediate/dense/", ""), ("ffn/intermediate/output/dense/", "ffn_output/"),
               ("/output/", "/"), ("/self/", "/"), ("pooler/dense", "pooler"),
               ("cls/predictions", "predictions"), ("predictions/attention", "predictions"),
               ("embeddings/attention", "embeddings"), ("inner_group_", "albert_layers/"),
               ("group_", "albert_layer_groups/")]


def hf_parameter_name(tf_name):
    name = tf_name
    for old, new in _HF_RENAMES:
        name = name.replace(old, new)
    if "seq_relationship" in name:
        name = name.replace("seq_relationship/output_", "sop_classifier/classifier/")
        name = name.replace("weights", "weight")
    parts = []
    for part in name.split("/"):
        if part == "cls":           # not a module of the PyTorch model: the loader skips it
            continue
        part = {"kernel": "weight", "gamma": "weight", "output_weights": "weight",
                "beta": "bias", "output_bias": "bias"}.get(part, part)
        parts.append(part)
    if parts[-1].endswith("_embeddings"):
        parts.append("weight")
    return ".".join(parts)


def hf_albert_pretraining_parameters(cfg):
    """AlbertForPreTraining's parameters that come from a checkpoint, with PyTorch shapes."""
    v, e, h, i = cfg["vocab_size"], cfg["embedding_size"], cfg["hidden_size"], cfg["intermediate_size"]
    p = {"albert.embeddings.word_embeddings.weight": [v, e],
         "albert.embeddings.position_embeddings.weight": [cfg["max_position_embeddings"], e],
         "albert.embeddings.token_type_embeddings.weight": [cfg["type_vocab_size"], e],
         "albert.embeddings.LayerNorm.weight": [e], "albert.embeddings.LayerNorm.bias": [e],
         "albert.encoder.embedding_hidden_mapping_in.weight": [h, e],
         "albert.encoder.embedding_hidden_mapping_in.bias": [h],
         "albert.pooler.weight": [h, h], "albert.pooler.bias": [h],
         "predictions.dense.weight": [e, h], "predictions.dense.bias": [e],
         "predictions.LayerNorm.weight": [e], "predictions.LayerNorm.bias": [e],
         "predictions.bias": [v],
         "sop_classifier.classifier.weight": [2, h], "sop_classifier.classifier.bias": [2]}
    for g in range(cfg["num_hidden_groups"]):
        for k in range(cfg["inner_group_num"]):
            q = "albert.encoder.albert_layer_groups.%d.albert_layers.%d." % (g, k)
            for name in ("attention.query", "attention.key", "attention.value", "attention.dense"):
                p[q + name + ".weight"], p[q + name + ".bias"] = [h, h], [h]
            for name in ("attention.LayerNorm", "full_layer_layer_norm"):
                p[q + name + ".weight"], p[q + name + ".bias"] = [h], [h]
            p[q + "ffn.weight"], p[q + "ffn.bias"] = [i, h], [i]
            p[q + "ffn_output.weight"], p[q + "ffn_output.bias"] = [h, i], [h]
    return p


def test_pretraining_lowers_loss_and_exports_what_hugging_face_reads(tmp_path, data):
    out = str(tmp_path / "pretrain")
    proc = run_py("run_pretraining.py", "--albert_config_file=" + data["config"],
                  "--input_file=" + data["train"], "--output_dir=" + out, "--do_train",
                  "--train_batch_size=16", "--num_train_steps=100", "--num_warmup_steps=20",
                  "--learning_rate=5e-3", "--max_seq_length=%d" % SEQ,
                  "--max_predictions_per_seq=%d" % PRED, "--precision_mode=force_fp32",
                  "--iterations_per_loop=20", "--export_dir=%s/export" % out,
                  "--vocab_file=" + data["vocab"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ALBERT variant: google (google-research/albert), read from the config" in proc.stdout
    with open(os.path.join(out, "results.json")) as f:
        losses = [loss for _, loss in json.load(f)["loss_every_step"]]
    assert len(losses) == 100
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert first > 8.0 and last < first - 1.0, (first, last)   # from ln(3000) = 8.0 down

    export = os.path.join(out, "export")
    assert sorted(os.listdir(export)) == ["albert_config.json", "albert_model.ckpt.data-00000-of-00001",
                                          "albert_model.ckpt.index", "vocab.txt"]
    ckpt = os.path.join(export, "albert_model.ckpt")
    shapes = dict(tf.train.list_variables(ckpt))
    assert not [n for n in shapes if "adam" in n or "loss_scale" in n.lower()]
    # Every exported model variable lands on a distinct AlbertForPreTraining parameter of the
    # right shape (kernels transposed), and every parameter is covered (the decoder is tied).
    expected = hf_albert_pretraining_parameters(TINY)
    mapped = {}
    for name, shape in shapes.items():
        if name == "global_step":
            continue
        hf = hf_parameter_name(name)
        assert hf in expected, (name, hf)
        want = expected[hf]
        got = list(reversed(shape)) if name.endswith("/kernel") else list(shape)
        assert got == want, (name, hf, got, want)
        mapped[hf] = name
    assert sorted(mapped) == sorted(expected)
    with open(os.path.join(export, "albert_config.json")) as f:
        assert json.load(f) == TINY


def random_checkpoint(path, cfg):
    """A checkpoint of the given layout with random (non-trivial) weights; returns them."""
    graph = tf.Graph()
    with graph.as_default():
        config = modeling.AlbertConfig.from_dict(cfg)
        ids = tf.placeholder(tf.int32, [2, SEQ])
        model = modeling.AlbertModel(config, False, ids, ids, ids)
        positions = tf.placeholder(tf.int32, [2, PRED])
        modeling.get_masked_lm_output(config, model, positions, positions,
                                      tf.cast(positions, tf.float32))
        modeling.get_sentence_order_output(config, model, positions[:, 0])
        rng = np.random.RandomState(3)
        assigns = [tf.assign(v, rng.normal(1.0 if v.op.name.endswith("gamma") else 0.0, 0.1,
                                           v.shape.as_list()).astype(np.float32))
                   for v in tf.global_variables()]
        with tf.Session() as sess:
            sess.run(assigns)
            weights = {v.op.name: sess.run(v) for v in tf.global_variables()}
            tf.train.Saver().save(sess, path, write_meta_graph=False)
    return weights


@pytest.mark.parametrize("variant", ["google", "albert_zh"])
def test_checkpoint_of_each_layout_loads_and_eval_matches_numpy(tmp_path, data, variant):
    cfg = dict(TINY)
    if variant == "albert_zh":
        cfg = {k: v for k, v in cfg.items() if k not in ("num_hidden_groups", "inner_group_num",
                                                         "down_scale_factor")}
        cfg["ln_type"] = "postln"
    ckpt_dir = tmp_path / "ckpt"
    weights = random_checkpoint(str(ckpt_dir / "albert_model.ckpt"), cfg)
    config_file = tmp_path / "cfg.json"
    config_file.write_text(json.dumps(cfg))
    out = tmp_path / "eval"
    proc = run_py("run_pretraining.py", "--albert_config_file=%s" % config_file,
                  "--input_file=" + data["train"], "--output_dir=%s" % out, "--do_eval",
                  "--init_checkpoint=%s" % ckpt_dir, "--eval_batch_size=8",
                  "--max_eval_steps=2", "--max_seq_length=%d" % SEQ,
                  "--max_predictions_per_seq=%d" % PRED, "--precision_mode=force_fp32")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ALBERT variant: %s" % variant in proc.stdout
    result = dict(line.split(" = ") for line in
                  (out / "eval_results.txt").read_text().strip().splitlines())
    rows = pretraining_data.read_examples_numpy(data["train"], limit=16)
    arr = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    layers, pooled = albert_forward(weights, cfg, arr["input_ids"], arr["input_mask"],
                                    arr["segment_ids"], variant)
    mlm, sop = pretraining_losses(weights, layers[-1], pooled, arr["masked_lm_positions"],
                                  arr["masked_lm_ids"], arr["masked_lm_weights"],
                                  arr["next_sentence_labels"], variant)
    assert abs(float(result["masked_lm_loss"]) - mlm) < 1e-4 * mlm
    assert abs(float(result["sentence_order_loss"]) - sop) < 1e-4 * max(sop, 1.0)


@pytest.fixture
def device_id():
    """A private ASCEND_DEVICE_ID so the script tests write their own test/output/<id>/ folder."""
    name = "pytest-albert-%d" % os.getpid()
    yield name
    shutil.rmtree(os.path.join(REPO_ROOT, "Albert", "test", "output", name), ignore_errors=True)


def test_full_script_prints_a_real_final_block_and_exports(device_id):
    env = python_env({"ASCEND_DEVICE_ID": device_id, "PYTHON": sys.executable})
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "Albert", "test", "train_full_1p.sh"),
                           "--train_steps=30", "--iterations_per_loop=10",
                           "--precision_mode=force_fp32"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert proc.stdout.startswith("note: no --data_path given: running the EMBEDDED DEMO")
    assert "running the EMBEDDED DEMO (albert_pretrain)" in proc.stdout
    final = final_block(proc.stdout)
    assert list(final) == ["Final Performance sentences/sec", "Final Performance images/sec",
                           "Final Performance ms/step", "Final Precision MLM Accuracy",
                           "Final Train Accuracy", "Final Training Steps", "Final Overflow Steps",
                           "Final Training Duration sec", "E2E Training Duration sec"]
    assert float(final["Final Performance sentences/sec"]) > 0
    assert 0 <= float(final["Final Precision MLM Accuracy"]) <= 1
    assert final["Final Training Steps"] == "30"
    export = os.path.join(REPO_ROOT, "Albert", "test", "output", device_id, "ckpt_pretrain_acc",
                          "export")
    assert os.path.isfile(os.path.join(export, "albert_model.ckpt.index"))
    assert modeling.detect_checkpoint_variant(os.path.join(export, "albert_model.ckpt")) == "google"


def test_performance_script_reads_an_albert_zh_model_path(tmp_path, data, device_id):
    cfg = {k: v for k, v in TINY.items() if k not in ("num_hidden_groups", "inner_group_num")}
    cfg["ln_type"] = "postln"
    model_dir = tmp_path / "albert_tiny_zh"
    random_checkpoint(str(model_dir / "albert_model.ckpt"), cfg)
    (model_dir / "albert_config_tiny.json").write_text(json.dumps(cfg))
    shutil.copy(data["vocab"], str(model_dir / "vocab.txt"))
    env = python_env({"ASCEND_DEVICE_ID": device_id, "PYTHON": sys.executable})
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "Albert", "test",
                                                "train_performance_1p.sh"),
                           "--data_path=" + data["records"], "--model_path=%s" % model_dir,
                           "--train_steps=4", "--iterations_per_loop=2", "--batch_size=4",
                           "--max_seq_length=%d" % SEQ, "--max_predictions_per_seq=%d" % PRED,
                           "--precision_mode=force_fp32"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "ALBERT variant: albert_zh (brightmart/albert_zh), read from the checkpoint layout" \
        in proc.stdout
    assert re.search(r"loaded (\d+) of \1 variables", proc.stdout + proc.stderr)
    assert "Final Performance sentences/sec" in proc.stdout


@pytest.mark.parametrize("case", ["corrupt", "vocab_mismatch", "bert_checkpoint"])
def test_pretraining_bad_input_is_one_error_line(case, tmp_path, data):
    input_file, config_file, extra = data["train"], data["config"], []
    if case == "corrupt":
        with open(data["train"], "rb") as f:
            raw = bytearray(f.read(4096))
        raw[20:60] = b"\xff" * 40
        bad = tmp_path / "bad.tfrecord"
        bad.write_bytes(bytes(raw))
        input_file, expected = str(bad), "error: --input_file: %s is not a valid TFRecord" % bad
    elif case == "vocab_mismatch":
        small = dict(TINY, vocab_size=100)
        config_file = str(tmp_path / "small.json")
        with open(config_file, "w") as f:
            json.dump(small, f)
        expected = "error: --input_file: %s has token id" % data["train"]
    else:
        graph = tf.Graph()
        with graph.as_default():
            tf.get_variable("bert/encoder/layer_0/attention/self/query/kernel", [4, 4])
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                tf.train.Saver().save(sess, str(tmp_path / "bert_model.ckpt"),
                                      write_meta_graph=False)
        extra = ["--init_checkpoint=%s" % (tmp_path / "bert_model.ckpt")]
        expected = "error: --init_checkpoint: checkpoint %s has BERT's layout" % (
            tmp_path / "bert_model.ckpt")
    out = tmp_path / "out"
    proc = run_py("run_pretraining.py", "--albert_config_file=" + config_file,
                  "--input_file=" + input_file, "--output_dir=%s" % out, "--do_train",
                  "--num_train_steps=2", "--num_warmup_steps=0", "--max_seq_length=%d" % SEQ,
                  "--max_predictions_per_seq=%d" % PRED, *extra, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = error_lines(proc)
    assert len(lines) == 1 and lines[0].startswith(expected), proc.stderr[-1500:]
    assert "Traceback" not in proc.stderr
    assert not (out / "results.json").exists()


@pytest.fixture(scope="module")
def sentiment():
    from common import demo_data
    return demo_data.prepare("bert_classifier")


def test_finetune_on_embedded_sentiment_beats_majority(tmp_path, sentiment):
    cfg = dict(TINY, vocab_size=6000)
    config_file = tmp_path / "albert_config.json"
    config_file.write_text(json.dumps(cfg))
    out = tmp_path / "cls"
    proc = run_py("run_classifier.py", "--task_name=chnsenticorp", "--data_dir=" + sentiment,
                  "--vocab_file=%s/vocab.txt" % sentiment, "--albert_config_file=%s" % config_file,
                  "--output_dir=%s" % out, "--do_train", "--do_eval", "--max_seq_length=64",
                  "--train_batch_size=32", "--eval_batch_size=100", "--num_train_steps=250",
                  "--learning_rate=5e-4", "--iterations_per_loop=50",
                  "--precision_mode=force_fp32", "--export_dir=%s/export" % out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(os.path.join(str(out), "results.json")) as f:
        accuracy = json.load(f)["metrics"]["eval_accuracy"]
    assert accuracy > 0.65, accuracy                         # majority class: 0.507
    names = [n for n, _ in tf.train.list_variables(str(out / "export" / "albert_model.ckpt"))]
    assert "output_weights" in names and not [n for n in names if "adam" in n]


def test_classifier_vocab_config_mismatch_is_one_error_line(tmp_path, sentiment):
    config_file = tmp_path / "albert_config.json"
    config_file.write_text(json.dumps(dict(TINY, vocab_size=100)))
    proc = run_py("run_classifier.py", "--task_name=chnsenticorp", "--data_dir=" + sentiment,
                  "--vocab_file=%s/vocab.txt" % sentiment, "--albert_config_file=%s" % config_file,
                  "--output_dir=%s" % (tmp_path / "out"), "--do_train", "--num_train_steps=1")
    assert proc.returncode == 1
    lines = error_lines(proc)
    assert len(lines) == 1 and "more than vocab_size=100" in lines[0], proc.stderr[-1500:]


def test_albert_zh_export_keeps_its_layout(tmp_path):
    from Albert import export_checkpoint

    cfg = {k: v for k, v in TINY.items() if k not in ("num_hidden_groups", "inner_group_num")}
    cfg["ln_type"] = "postln"
    src = str(tmp_path / "train" / "model.ckpt-7")
    random_checkpoint(src, cfg)
    graph = tf.Graph()
    with graph.as_default():      # optimizer slots as a training checkpoint holds them
        variables = [tf.get_variable(n, s) for n, s in tf.train.list_variables(src)]
        slots = [tf.get_variable(n + "/adam_m", s) for n, s in tf.train.list_variables(src)]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver(variables + slots).save(sess, src, write_meta_graph=False)
    written = export_checkpoint.export(src, str(tmp_path / "export"),
                                       modeling.AlbertConfig.from_dict(cfg))
    names = sorted(n for n, _ in written)
    assert names == sorted(n for n, _ in tf.train.list_variables(src) if "adam" not in n)
    assert "bert/embeddings/word_embeddings_2" in names
    assert all(not n.startswith("bert/encoder/transformer") for n in names)
    exported = str(tmp_path / "export" / "albert_model.ckpt")
    assert modeling.detect_checkpoint_variant(exported) == "albert_zh"
    config = modeling.AlbertConfig.from_json_file(str(tmp_path / "export" / "albert_config.json"))
    assert config.variant == "albert_zh" and config.ln_type == "postln"
