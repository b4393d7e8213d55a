# coding=utf-8
"""common/classifier_data.py: the GLUE / XNLI / Chinese TSV processors read the original file
layouts; features are [CLS] A [SEP] B [SEP]; metrics (accuracy, F1, MCC) match numpy."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from common import classifier_data
from common.tokenization import BasicTokenizer


class CharTokenizer(object):
    """A stand-in tokenizer: basic tokens, ids from a growing table ([CLS]=1, [SEP]=2)."""

    def __init__(self):
        self.basic = BasicTokenizer()
        self.vocab = {"[PAD]": 0, "[CLS]": 1, "[SEP]": 2}

    def tokenize(self, text):
        return self.basic.tokenize(text)

    def convert_tokens_to_ids(self, tokens):
        return [self.vocab.setdefault(t, len(self.vocab)) for t in tokens]


def write(folder, name, rows):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")


def test_mrpc_cola_sst2_mnli_layouts(tmp_path):
    write(tmp_path, "train.tsv", [["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                                  ["1", "1", "2", "He said so.", "He said it."]])
    ex = classifier_data.get_processor("MRPC").get_train_examples(str(tmp_path))
    assert [(e.text_a, e.text_b, e.label) for e in ex] == [("He said so.", "He said it.", "1")]

    cola = tmp_path / "cola"
    write(cola, "train.tsv", [["gj04", "1", "", "The book was read."]])   # no header
    write(cola, "test.tsv", [["index", "sentence"], ["0", "Read book the."]])
    processor = classifier_data.get_processor("cola")
    assert [(e.text_a, e.label) for e in processor.get_train_examples(str(cola))] == \
        [("The book was read.", "1")]
    assert [(e.text_a, e.label) for e in processor.get_test_examples(str(cola))] == \
        [("Read book the.", "0")]

    sst = tmp_path / "sst"
    write(sst, "dev.tsv", [["sentence", "label"], ["a gorgeous film", "1"]])
    assert [(e.text_a, e.label) for e in
            classifier_data.get_processor("SST-2").get_dev_examples(str(sst))] == \
        [("a gorgeous film", "1")]

    mnli = tmp_path / "mnli"
    header = ["index", "promptID", "pairID", "genre", "s1bp", "s2bp", "s1p", "s2p",
              "sentence1", "sentence2", "label1", "gold_label"]
    write(mnli, "dev_matched.tsv", [header, ["7", "", "", "", "", "", "", "", "P.", "H.",
                                             "neutral", "entailment"]])
    ex = classifier_data.get_processor("MNLI").get_dev_examples(str(mnli))
    assert [(e.guid, e.text_a, e.text_b, e.label) for e in ex] == [("dev-7", "P.", "H.",
                                                                    "entailment")]


def test_xnli_and_chinese_tsv(tmp_path):
    write(tmp_path, "multinli/multinli.train.zh.tsv",
          [["premise", "hypo", "label"], [u"他来了", u"他在", "contradictory"]])
    row = ["zh", "neutral"] + [""] * 4 + [u"前提", u"假设"]
    write(tmp_path, "xnli.dev.tsv", [["language", "gold_label"] + ["x"] * 6, row,
                                     ["en"] + row[1:]])
    processor = classifier_data.get_processor("XNLI")
    assert [(e.text_a, e.label) for e in processor.get_train_examples(str(tmp_path))] == \
        [(u"他来了", "contradiction")]
    assert [(e.text_a, e.text_b, e.label) for e in processor.get_dev_examples(str(tmp_path))] \
        == [(u"前提", u"假设", "neutral")]

    senti = tmp_path / "senti"
    write(senti, "train.tsv", [["label", "text_a"], ["1", u"很好"], ["0", u"不好"]])
    write(senti, "dev.tsv", [["0", u"一般"]])                                  # no header
    write(senti, "test.tsv", [["qid", "text_a"], ["0", u"还行"]])              # unlabelled
    processor = classifier_data.get_processor("chnsenticorp")
    assert [(e.text_a, e.label) for e in processor.get_train_examples(str(senti))] == \
        [(u"很好", "1"), (u"不好", "0")]
    assert [(e.text_a, e.label) for e in processor.get_dev_examples(str(senti))] == \
        [(u"一般", "0")]
    assert [e.text_a for e in processor.get_test_examples(str(senti))] == [u"还行"]

    lcqmc = tmp_path / "lcqmc"
    write(lcqmc, "train.tsv", [[u"今天天气", u"天气如何", "1"]])
    ex = classifier_data.get_processor("lcqmc").get_train_examples(str(lcqmc))
    assert [(e.text_a, e.text_b, e.label) for e in ex] == [(u"今天天气", u"天气如何", "1")]


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="--task_name=qqp is not a known task"):
        classifier_data.get_processor("qqp")
    with pytest.raises(FileNotFoundError, match="train.tsv"):
        classifier_data.get_processor("mrpc").get_train_examples(str(tmp_path))
    write(tmp_path, "train.tsv", [["Quality", "a"], ["1", "only two columns"]])
    with pytest.raises(ValueError, match="train.tsv line 2 has 2 column"):
        classifier_data.get_processor("mrpc").get_train_examples(str(tmp_path))
    example = classifier_data.InputExample("train-3", "x", None, "7", "train.tsv line 4")
    with pytest.raises(ValueError, match=r"train.tsv line 4: label '7' is not one of"):
        classifier_data.convert_single_example(0, example, ["0", "1"], 8, CharTokenizer())


def test_features_layout_and_truncation():
    tok = CharTokenizer()
    example = classifier_data.InputExample("g", "a b c d e", "f g h", "1")
    feature = classifier_data.convert_single_example(5, example, ["0", "1"], 8, tok)
    tokens = {v: k for k, v in tok.vocab.items()}
    assert [tokens[i] for i in feature.input_ids] == ["[CLS]", "a", "b", "c", "[SEP]", "f",
                                                      "g", "[SEP]"]  # longer side truncated
    assert feature.segment_ids == [0, 0, 0, 0, 0, 1, 1, 1]
    assert feature.input_mask == [1] * 8 and feature.label_id == 1
    single = classifier_data.convert_single_example(
        5, classifier_data.InputExample("g", "a b", None, "0"), ["0", "1"], 6, tok)
    assert single.input_mask == [1, 1, 1, 1, 0, 0] and single.input_ids[4:] == [0, 0]
    pad = classifier_data.convert_single_example(
        0, classifier_data.PaddingInputExample(), ["0", "1"], 6, tok)
    assert not pad.is_real_example and pad.input_ids == [0] * 6
    assert len(classifier_data.pad_examples([example] * 5, 4)) == 8


@pytest.mark.parametrize("task", ["mrpc", "cola"])
def test_metrics_match_numpy(task):
    rng = np.random.RandomState(0)
    labels = rng.randint(0, 2, 40).astype(np.int32)
    logits = rng.normal(size=(40, 2)).astype(np.float32)
    logits[labels == 1, 1] += 0.8
    real = np.ones(40, np.float32)
    real[-5:] = 0                                         # padding examples do not count
    with tf.Graph().as_default():
        metrics = classifier_data.classification_metrics(
            task, tf.constant(np.ones(40, np.float32)), tf.constant(labels), tf.constant(logits),
            tf.constant(real))
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            sess.run([update for _, update in metrics.values()])
            values = sess.run({k: v for k, (v, _) in metrics.items()})
    y, p = labels[:35], logits[:35].argmax(1)
    tp = float(((p == 1) & (y == 1)).sum())
    tn = float(((p == 0) & (y == 0)).sum())
    fp = float(((p == 1) & (y == 0)).sum())
    fn = float(((p == 0) & (y == 1)).sum())
    assert values["eval_accuracy"] == pytest.approx((tp + tn) / 35, abs=1e-6)
    if task == "mrpc":
        assert values["eval_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-6)
    else:
        mcc = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        assert values["eval_mcc"] == pytest.approx(mcc, abs=1e-6)
