"""The sentencepiece path (English ALBERT vocabularies): google-research/albert's normalisation and
piece handling, word-start marks for whole-word masking, create_pretraining_data --spm_model_file."""
import os
import random
import subprocess
import sys

import pytest

from common import pretraining_data
from common.tokenization import SentencePieceTokenizer
from common.tokenization.marks import WordContinuation
from conftest import REPO_ROOT, python_env


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    """A 600-piece unigram model trained in seconds on Python's own documentation prose, with
    ALBERT's special pieces (<pad>=0, <unk>=1, [CLS], [SEP], [MASK])."""
    from pydoc_data import topics

    folder = tmp_path_factory.mktemp("spm")
    paragraphs = [p.strip() for text in list(topics.topics.values())[:120]
                  for p in text.split("\n\n") if len(p.strip()) > 40]
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(" ".join(p.split()) for p in paragraphs) + "\n", encoding="utf-8")
    prefix = str(folder / "albert_demo")
    # Trained in a child process: on TF 1.15 / Python 3.7 sentencepiece's trainer crashed
    # (segfault) inside a process that had already run TensorFlow sessions.
    options = ("--input=%s --model_prefix=%s --vocab_size=600 --model_type=unigram --pad_id=0 "
               "--unk_id=1 --bos_id=-1 --eos_id=-1 --user_defined_symbols=[CLS],[SEP],[MASK] "
               "--character_coverage=1.0 --minloglevel=2" % (corpus, prefix))
    subprocess.run([sys.executable, "-c", "import sys, sentencepiece; "
                    "sentencepiece.SentencePieceTrainer.Train(sys.argv[1])", options],
                   check=True, timeout=300)
    # A document file for create_pretraining_data: sentences per line, blank line between docs.
    docs = folder / "docs.txt"
    docs.write_text("\n\n".join("\n".join(s.strip() + "." for s in p.split(". ") if s.strip())
                                for p in paragraphs[:200]) + "\n", encoding="utf-8")
    return {"model": prefix + ".model", "docs": str(docs)}


def test_vocabulary_and_normalisation(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model["model"], do_lower_case=True)
    assert len(tokenizer.vocab) == 600
    assert tokenizer.convert_tokens_to_ids(["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]) == \
        [0, 1, 2, 3, 4]
    # Accents dropped (NFKD, combining marks removed), case folded, whitespace collapsed.
    assert tokenizer.tokenize(u"Caf\u00e9   FUNCTION") == tokenizer.tokenize("cafe function")
    pieces = tokenizer.tokenize("The function returns 12, then 7.")
    assert "".join(pieces).replace(u"\u2581", " ").strip() == "the function returns 12, then 7."
    assert "," in pieces and not [p for p in pieces if p.endswith(",") and len(p) > 1]
    ids = tokenizer.convert_tokens_to_ids(pieces)
    assert tokenizer.convert_ids_to_tokens(ids) == [str(p) for p in pieces]


def test_word_start_marks_and_whole_word_masking(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model["model"], do_lower_case=True)
    text = ("Exceptions raised inside a generator propagate through the comprehension; "
            "the interpreter evaluates decorators when the definition is executed")
    pieces = tokenizer.tokenize(text)
    for i, piece in enumerate(pieces):
        starts = i == 0 or piece.startswith(u"\u2581") or piece in ",;."
        assert isinstance(piece, WordContinuation) != starts, (i, piece)
    assert any(isinstance(p, WordContinuation) for p in pieces)   # some words have several pieces
    words, current = [], []
    for i, piece in enumerate(pieces):
        if not isinstance(piece, WordContinuation) and current:
            words.append(current)
            current = []
        current.append(i + 1)                                      # +1: [CLS]
    words.append(current)
    sequence = ["[CLS]"] + pieces + ["[SEP]"]
    rng = random.Random(0)
    for _ in range(100):
        _, positions, _ = pretraining_data.create_ngram_masked_lm_predictions(
            sequence, 0.2, 20, list(tokenizer.vocab), rng, do_whole_word_mask=True, ngram=3)
        chosen = set(positions)
        for word in words:
            assert set(word) <= chosen or not (set(word) & chosen)


def test_create_pretraining_data_with_spm_model(spm_model, tmp_path):
    out = tmp_path / "spm.tfrecord"
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "Albert", "create_pretraining_data.py"),
         "--input_file=" + spm_model["docs"], "--output_file=%s" % out,
         "--spm_model_file=" + spm_model["model"], "--max_seq_length=64",
         "--max_predictions_per_seq=10", "--dupe_factor=1"],
        env=python_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = pretraining_data.read_examples_numpy(str(out))
    assert len(rows) > 50
    assert all(r["input_ids"][0] == 2 and 3 in r["input_ids"] for r in rows)   # [CLS] ... [SEP]
    assert max(max(r["input_ids"]) for r in rows) < 600


def test_not_a_sentencepiece_model_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a sentencepiece model"):
        SentencePieceTokenizer(str(bad))
