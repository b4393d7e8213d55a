"""XLNet pretraining: the memory carried across steps, a loss that falls, the entry point end to
end (step lines, PLM accuracy, clean export) and its one-line errors."""
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
from XLNet import data_utils, function_builder, model_utils, modeling

WORDS = ["sun", "moon", "star", "sky", "rain", "snow", "wind", "fog"]
OPTS = dict(bsz_per_host=4, seq_len=16, reuse_len=8, bi_data=True, mask_alpha=6, mask_beta=1,
            num_predict=5)
CONFIG = dict(n_layer=2, d_model=32, n_head=2, d_head=16, d_inner=64, ff_activation="gelu",
              untie_r=True, n_token=32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A tiny repetitive text (learnable), its sentencepiece model and records (train and dev)."""
    folder = tmp_path_factory.mktemp("xlnet_pretrain")
    rng = random.Random(0)
    lines = []
    for _ in range(300):
        start = rng.randrange(len(WORDS))
        lines.append(" ".join(WORDS[(start + k) % len(WORDS)] for k in range(rng.randint(3, 7))))
        if rng.random() < 0.1:
            lines.append("")
    (folder / "corpus.txt").write_text("\n".join(lines) + "\n")
    model = spu.train_model(str(folder / "corpus.txt"), str(folder / "spiece"), vocab_size=32)
    data_utils.create_data([str(folder / "corpus.txt")], model, str(folder), log=lambda m: None,
                           **OPTS)
    # the dev records through the command line (the original's flags)
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "XLNet", "data_utils.py"),
         "--input_glob=%s" % (folder / "corpus.txt"), "--sp_path=%s" % model,
         "--save_dir=%s" % folder, "--split=dev", "--pass_id=1", "--bsz_per_host=4",
         "--seq_len=16", "--reuse_len=8", "--num_predict=5"], capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.isfile(folder / "tfrecords" / data_utils.format_filename(
        "record_info-dev-0-1", 4, 16, True, "json", 6, 1, 8, False, 5))
    (folder / "xlnet_config.json").write_text(json.dumps(CONFIG))
    return folder, model


def test_memory_is_carried_and_loss_falls(corpus):
    folder, _ = corpus
    info = data_utils.find_record_info(str(folder / "tfrecords"), "train", 4, 16, 8, True, 6, 1,
                                       num_predict=5)
    config = modeling.XLNetConfig.from_dict(CONFIG)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        features = tf.data.make_one_shot_iterator(data_utils.input_fn_builder(
            info["filenames"], 4, 16, 8, 4, 5, seed=3)(None)).get_next()
        run_config = modeling.create_run_config(True, False, dropout=0.0, dropatt=0.0,
                                                mem_len=8, reuse_len=8, bi_data=True)
        mem_vars = function_builder.memory_variables(2, 8, 4, 32)
        loss, new_mems, _, _, _, _ = function_builder.two_stream_loss(config, run_config,
                                                                      features, mem_vars)
        train_op, _ = model_utils.get_train_op(loss, 1e-2, 300, 10)
        train_op = function_builder.update_memory(mem_vars, new_mems, train_op)
        table = [v for v in tf.global_variables() if v.op.name.endswith("lookup_table")][0]
        assert not [v for v in tf.global_variables() if v.op.name.startswith("mems/")]
        with tf.Session() as sess:
            sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
            assert not sess.run(mem_vars[0]).any()
            emb, inp, mems_before, (l0, _) = None, None, None, (None, None)
            losses, changes = [], []
            for step in range(300):
                emb_before = sess.run(table)
                mems_before = sess.run(mem_vars)
                inp, l, _ = sess.run([features["input_k"], loss, train_op])
                mems_after = sess.run(mem_vars)
                if step == 0:
                    # layer 0's memory = the word embeddings of the memory part of this batch
                    np.testing.assert_allclose(mems_after[0],
                                               emb_before[inp[:, :8].T], atol=1e-6)
                changes.append(max(np.abs(a - b).max() for a, b in zip(mems_after, mems_before)))
                losses.append(l)
    assert min(changes) > 0                   # every step writes a new memory
    assert np.mean(losses[-20:]) < 0.7 * np.mean(losses[:10]), (losses[:10], losses[-20:])


def _run(folder, model, out, *extra):
    cmd = [sys.executable, os.path.join(REPO_ROOT, "XLNet", "run_pretraining.py"),
           "--record_info_dir=%s" % (folder / "tfrecords"),
           "--model_config_path=%s" % (folder / "xlnet_config.json"),
           "--spiece_model_file=%s" % model, "--output_dir=%s" % out, "--train_batch_size=4",
           "--seq_len=16", "--reuse_len=8", "--perm_size=4", "--mem_len=8", "--num_predict=5",
           "--precision_mode=must_keep_origin_dtype", "--loss_scale=off"] + list(extra)
    return subprocess.run(cmd, env=python_env(), capture_output=True, text=True, timeout=300)


def test_entry_point_trains_evaluates_and_exports(corpus, tmp_path):
    folder, model = corpus
    out = tmp_path / "out"
    proc = _run(folder, model, out, "--do_train", "--do_eval", "--train_steps=30",
                "--warmup_steps=3", "--learning_rate=3e-3", "--iterations_per_loop=10",
                "--max_eval_steps=4", "--export_dir=%s" % (tmp_path / "export"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.load(open(out / "results.json"))
    assert results["precision_metric"]["name"] == "PLM Accuracy"
    assert 0 <= results["precision_metric"]["value"] <= 1
    assert results["metrics"]["plm_loss"] < np.log(32)       # better than uniform
    lines = [l for l in proc.stdout.splitlines() if l.startswith("[")]
    assert lines[0].startswith("[0] | gnorm ") and "| pplx " in lines[0]
    assert list(loss_log.parse_log_text("\n".join(lines)).loss)[:3] == [0, 10, 20]
    names = dict(tf.train.list_variables(str(tmp_path / "export" / "xlnet_model.ckpt")))
    assert names["model/lm_loss/bias"] == [32]
    assert names["model/transformer/mask_emb/mask_emb"] == [1, 1, 32]
    assert not [n for n in names if n.startswith("mems") or "adam" in n.lower()]
    assert os.path.isfile(tmp_path / "export" / "spiece.model")


def test_bad_input_is_one_line(corpus, tmp_path):
    folder, model = corpus
    out = tmp_path / "o"
    # (a batch size the records were not made for, and the other option errors: data tests)
    cases = [(("--train_batch_size=3",), "--train_batch_size=3 is odd: --bi_data needs an even"),
             (("--record_info_dir=%s" % (tmp_path / "none"),), "is not a folder")]
    for extra, message in cases:
        proc = _run(folder, model, out, "--do_train", "--train_steps=5", *extra)
        last = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 1 and last.startswith("error: ") and message in last, last
    assert not os.path.exists(out)
