"""XLNet run_classifier end to end on a small learnable task (subprocess), the schedule and the
layer-wise decay, the clean export's names, and one-line errors."""
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import REPO_ROOT, python_env
from common import loss_log
from common.tokenization import sentencepiece_utils as spu
from XLNet import model_utils

POS, NEG = ["good", "great", "fine", "nice"], ["bad", "awful", "poor", "sad"]
FILLER = ["the", "movie", "was", "plot", "actor", "and", "very", "really", "story", "it"]


def _sentence(rng, label):
    words = [rng.choice(FILLER) for _ in range(rng.randint(3, 7))]
    words.insert(rng.randint(0, len(words)), rng.choice(POS if label else NEG))
    return " ".join(words)


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xlnet_task")
    rng = random.Random(0)
    for name, n in (("train.tsv", 400), ("dev.tsv", 64)):
        rows = [(l, _sentence(rng, l)) for l in [rng.randint(0, 1) for _ in range(n)]]
        (folder / name).write_text("label\ttext_a\n" + "".join("%d\t%s\n" % r for r in rows))
    (folder / "corpus.txt").write_text("\n".join(_sentence(rng, i % 2) for i in range(300)))
    model = spu.train_model(str(folder / "corpus.txt"), str(folder / "spiece"), vocab_size=45)
    config = dict(n_layer=1, d_model=32, n_head=2, d_head=16, d_inner=64, ff_activation="gelu",
                  untie_r=True, n_token=45)
    (folder / "xlnet_config.json").write_text(json.dumps(config))
    return folder, model


def _run(folder, model, out, *extra):
    cmd = [sys.executable, os.path.join(REPO_ROOT, "XLNet", "run_classifier.py"),
           "--task_name=tsv_single", "--data_dir=%s" % folder,
           "--model_config_path=%s" % (folder / "xlnet_config.json"),
           "--spiece_model_file=%s" % model, "--output_dir=%s" % out, "--max_seq_length=16",
           "--precision_mode=must_keep_origin_dtype", "--loss_scale=off"] + list(extra)
    return subprocess.run(cmd, env=python_env(), capture_output=True, text=True, timeout=300)


def test_classifier_learns_logs_and_exports(task, tmp_path):
    folder, model = task
    out = tmp_path / "out"
    proc = _run(folder, model, out, "--do_train", "--do_eval", "--train_steps=150",
                "--warmup_steps=10", "--learning_rate=3e-3", "--train_batch_size=16",
                "--eval_batch_size=16", "--iterations_per_loop=10", "--dropout=0.0",
                "--dropatt=0.0", "--export_dir=%s" % (tmp_path / "export"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.load(open(out / "results.json"))
    assert results["precision_metric"]["name"] == "Accuracy"
    assert results["precision_metric"]["value"] >= 0.9, results["metrics"]
    losses = [l for _, l in results["loss_every_step"]]
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:10])
    lines = [l for l in proc.stdout.splitlines() if l.startswith("[")]
    assert lines[0].startswith("[0] | gnorm ") and " lr " in lines[0] and "| loss " in lines[0]
    parsed = loss_log.parse_log_text("\n".join(lines))
    assert list(parsed.loss)[:3] == [0, 10, 20]
    names = dict(tf.train.list_variables(str(tmp_path / "export" / "xlnet_model.ckpt")))
    assert names["model/transformer/layer_0/rel_attn/q/kernel"] == [32, 2, 16]
    assert names["model/classification_tsv_single/logit/kernel"] == [32, 2]
    assert not [n for n in names if "adam" in n.lower() or n.endswith(("/m", "/v"))]
    assert os.path.isfile(tmp_path / "export" / "spiece.model")


def test_bad_input_is_one_line(task, tmp_path):
    folder, model = task
    proc = _run(folder, model, tmp_path / "o", "--do_train", "--train_steps=5",
                "--init_checkpoint=%s" % (tmp_path / "missing"))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: checkpoint not found")
    bad = tmp_path / "bad.json"
    bad.write_text('{"n_layer": 1}')
    proc = _run(folder, model, tmp_path / "o", "--do_train", "--model_config_path=%s" % bad)
    assert proc.returncode == 1 and "lacks d_model" in proc.stderr.strip().splitlines()[-1]
    assert not os.path.exists(tmp_path / "o" / "train.tf_record")


def test_schedule_and_layer_decay():
    with tf.Graph().as_default(), tf.Session() as sess:
        step = tf.placeholder(tf.int64, [])
        poly = model_utils.learning_rate_schedule(step, 1.0, 110, 10, "poly", 0.1)
        cos = model_utils.learning_rate_schedule(step, 1.0, 110, 10, "cos", 0.0)
        got = [sess.run([poly, cos], {step: s}) for s in (0, 5, 10, 60, 110)]
    np.testing.assert_allclose(got, [[0, 0], [0.5, 0.5], [1, 1], [0.55, 0.5], [0.1, 0]],
                               atol=1e-6)
    mult = model_utils.layer_decay_multiplier(
        ["model/transformer/layer_0/ff/layer_1/kernel", "model/transformer/layer_2/ff/x",
         "model/transformer/word_embedding/lookup_table"], 0.5)
    assert mult("model/transformer/layer_0/ff/layer_1/kernel") == 0.25
    assert mult("model/transformer/layer_2/ff/x") == 1.0
    assert mult("model/transformer/word_embedding/lookup_table") == 1.0
