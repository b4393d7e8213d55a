"""Sentencepiece preprocessing (prepro_utils rules) and XLNet classifier features."""
import os
import pydoc_data.topics

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from common.classifier_data import InputExample, PaddingInputExample
from common.tokenization import sentencepiece_utils as spu
from XLNet import classifier_utils as cu


@pytest.fixture(scope="module")
def sp_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spm")
    text = folder / "text.txt"
    topics = sorted(pydoc_data.topics.topics)[:30]
    lines = [l for t in topics for l in pydoc_data.topics.topics[t].splitlines() if l.strip()]
    # frequent enough that the model learns pieces such as "2000," (what the rule re-splits)
    lines += ["I was born in 2000, and in 1999, too."] * 200
    text.write_text("\n".join(lines), encoding="utf-8")
    return spu.load_model(spu.train_model(str(text), str(folder / "sp"), vocab_size=500))


def test_preprocess_text_rules():
    assert spu.preprocess_text("  a \t b\n c  ") == "a b c"
    assert spu.preprocess_text("``quoted''") == '"quoted"'
    assert spu.preprocess_text("falsé Ñandú") == "false Nandu"
    assert spu.preprocess_text("falsé", keep_accents=True) == "falsé"
    assert spu.preprocess_text("Hello World", lower=True) == "hello world"
    assert spu.preprocess_text(" x  y ", remove_space=False) == " x  y "
    assert spu.preprocess_text("ﬁ ①") == "fi 1"  # NFKD compatibility forms


def test_special_ids(sp_model):
    for piece, index in cu.SPECIAL_SYMBOLS.items():
        assert sp_model.PieceToId(piece) == index, piece


class _FakeModel(object):
    """Fixed segmentations, so each branch of the digit-comma rule is exercised."""
    table = {"born 2000, ok": ["\u2581born", "\u25812000,", "\u2581ok"],
             "x12,": ["\u2581x", "12,"], "12": ["\u2581", "12"],
             "y34,": ["\u2581y", "34,"], "34": ["\u258134"],
             "2000": ["\u25812000"], "a,": ["\u2581a,"]}

    def EncodeAsPieces(self, text):
        return list(self.table[text])

    def PieceToId(self, piece):
        return len(piece)


def test_digit_comma_rule():
    fake = _FakeModel()
    u = "\u2581"
    # a word-initial "2000," is re-encoded as its digits, then "," alone
    assert spu.encode_pieces(fake, "born 2000, ok") == [u + "born", u + "2000", ",", u + "ok"]
    # inside a word: the re-encoding's leading marker is dropped (a lone marker piece removed,
    # else stripped from the first piece)
    assert spu.encode_pieces(fake, "x12,") == [u + "x", "12", ","]
    assert spu.encode_pieces(fake, "y34,") == [u + "y", "34", ","]
    # only digit + comma pieces are touched
    assert spu.encode_pieces(fake, "a,") == [u + "a,"]
    assert spu.encode_ids(fake, "x12,") == [2, 2, 1]


def test_real_model_round_trip(sp_model):
    text = "If the Condition is true, the suite runs: 2000, 1999, done."
    ids = spu.encode_ids(sp_model, spu.preprocess_text(text, lower=True))
    assert sp_model.DecodeIds(ids) == spu.preprocess_text(text, lower=True)
    assert min(ids) > cu.EOP_ID or cu.UNK_ID in ids  # no text maps onto a special id


def _features(example, max_len=12, labels=("0", "1")):
    return cu.convert_single_example(example, labels and list(labels), max_len,
                                     lambda t: [int(x) for x in t.split()])


def test_single_sentence_layout():
    f = _features(InputExample("g", "11 12 13", label="1"))
    assert f.input_ids == [0] * 7 + [11, 12, 13, cu.SEP_ID, cu.CLS_ID]
    assert f.segment_ids == [4] * 7 + [0, 0, 0, 0, 2]
    assert f.input_mask == [1.0] * 7 + [0.0] * 5
    assert f.label_id == 1


def test_pair_layout_and_truncation():
    f = _features(InputExample("g", "11 12 13 14 15 16", "21 22 23", label="0"), max_len=8)
    # 5 tokens of room: the longer side loses tokens first
    assert f.input_ids == [11, 12, 13, cu.SEP_ID, 21, 22, cu.SEP_ID, cu.CLS_ID]
    assert f.segment_ids == [0, 0, 0, 0, 1, 1, 1, 2]
    assert f.input_mask == [0.0] * 8
    long = _features(InputExample("g", " ".join(["9"] * 20), label="0"), max_len=6)
    assert long.input_ids == [9, 9, 9, 9, cu.SEP_ID, cu.CLS_ID]


def test_padding_example_regression_and_bad_label(tmp_path):
    pad = _features(PaddingInputExample())
    assert not pad.is_real_example and pad.input_mask == [1.0] * 12
    reg = _features(InputExample("g", "5", label="3.25"), labels=None)
    assert reg.label_id == 3.25
    with pytest.raises(ValueError, match="train.tsv line 4: label 'x'"):
        _features(InputExample("g", "5", label="x", source="train.tsv line 4"))
    with pytest.raises(ValueError, match="not a number"):
        _features(InputExample("g", "5", label="high"), labels=None)


def test_tfrecord_round_trip(tmp_path):
    path = str(tmp_path / "f.tfrecord")
    examples = [InputExample("a", "11 12", label="1"), InputExample("b", "13", "14", label="0"),
                PaddingInputExample(), PaddingInputExample()]
    assert cu.file_based_convert_examples_to_features(
        examples, ["0", "1"], 6, lambda t: [int(x) for x in t.split()], path) == 4
    with tf.Graph().as_default(), tf.Session() as sess:
        batch = sess.run(tf.data.make_one_shot_iterator(cu.file_based_input_fn_builder(
            path, 6, False, 4)()).get_next())
    np.testing.assert_array_equal(batch["input_ids"][0], [0, 0, 11, 12, 4, 3])
    np.testing.assert_array_equal(batch["input_mask"][1], [1, 0, 0, 0, 0, 0])
    assert batch["input_mask"].dtype == np.float32
    np.testing.assert_array_equal(batch["segment_ids"][1], [4, 0, 0, 1, 1, 2])
    np.testing.assert_array_equal(batch["is_real_example"], [1, 1, 0, 0])
