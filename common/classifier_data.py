# coding=utf-8
"""Sentence(-pair) classification data for BERT-style models (google-research/bert run_classifier).

* Processors: MRPC, CoLA, SST-2, MNLI, XNLI (original file layouts) and two generic Chinese TSV
  tasks: `chnsenticorp` (label, text_a) and `lcqmc` (text_a, text_b, label). The generic ones read
  a header row when there is one (columns label / text_a / text_b, or sentence / sentence1 /
  sentence2 / text) and otherwise take the positional layout just given.
* Features: [CLS] A [SEP] (B [SEP]), the pair truncated from the longer side; written to TFRecords
  with input_ids, input_mask, segment_ids, label_ids, is_real_example (atomic write).
* Input function and evaluation metrics (accuracy; F1 for MRPC; Matthews correlation for CoLA).

Any tokenizer with `tokenize` and `convert_tokens_to_ids` fits (WordPiece or sentencepiece).
"""

import collections
import csv
import os
import sys

import tensorflow.compat.v1 as tf

from common import atomic_io
from common.tokenization import convert_to_unicode


class InputExample(object):
    """One example: guid, text_a, optional text_b, label (None for unlabelled), source (file:line)."""

    def __init__(self, guid, text_a, text_b=None, label=None, source=None):
        self.guid = guid
        self.text_a = text_a
        self.text_b = text_b
        self.label = label
        self.source = source


class PaddingInputExample(object):
    """A fake example that pads the last eval/predict batch to a full batch (is_real_example = 0)."""


class InputFeatures(object):
    """The features of one example."""

    def __init__(self, input_ids, input_mask, segment_ids, label_id, is_real_example=True):
        self.input_ids = input_ids
        self.input_mask = input_mask
        self.segment_ids = segment_ids
        self.label_id = label_id
        self.is_real_example = is_real_example


class DataProcessor(object):
    """Reads the train/dev/test files of one task from `data_dir`."""

    name = None
    train_file, dev_file, test_file = "train.tsv", "dev.tsv", "test.tsv"

    def get_train_examples(self, data_dir):
        return self._create_examples(self._read_tsv(os.path.join(data_dir, self.train_file)),
                                     "train", self.train_file)

    def get_dev_examples(self, data_dir):
        return self._create_examples(self._read_tsv(os.path.join(data_dir, self.dev_file)),
                                     "dev", self.dev_file)

    def get_test_examples(self, data_dir):
        return self._create_examples(self._read_tsv(os.path.join(data_dir, self.test_file)),
                                     "test", self.test_file)

    def get_labels(self):
        raise NotImplementedError()

    def _create_examples(self, lines, set_type, file_name):
        raise NotImplementedError()

    @classmethod
    def _read_tsv(cls, input_file, quotechar=None):
        """Reads a tab separated file into a list of rows (clear error when it is missing)."""
        if not os.path.isfile(input_file):
            raise FileNotFoundError("data file not found: %s (task %s)" % (input_file, cls.name))
        csv.field_size_limit(min(sys.maxsize, 2 ** 31 - 1))
        with open(input_file, "r", encoding="utf-8", errors="replace", newline="") as f:
            return [row for row in csv.reader(f, delimiter="\t", quotechar=quotechar)]

    @staticmethod
    def _field(line, index, file_name, line_number):
        try:
            return convert_to_unicode(line[index])
        except IndexError:
            raise ValueError("%s line %d has %d column(s), expected at least %d"
                             % (file_name, line_number, len(line), index + 1))


class MrpcProcessor(DataProcessor):
    """MRPC (GLUE): header row; Quality, #1 ID, #2 ID, #1 String, #2 String."""

    name = "mrpc"

    def get_labels(self):
        return ["0", "1"]

    def _create_examples(self, lines, set_type, file_name):
        examples = []
        for (i, line) in enumerate(lines):
            if i == 0:
                continue
            src = "%s line %d" % (file_name, i + 1)
            text_a = self._field(line, 3, file_name, i + 1)
            text_b = self._field(line, 4, file_name, i + 1)
            label = "0" if set_type == "test" else self._field(line, 0, file_name, i + 1)
            examples.append(InputExample("%s-%d" % (set_type, i), text_a, text_b, label, src))
        return examples


class ColaProcessor(DataProcessor):
    """CoLA (GLUE): train/dev without header (source, label, mark, sentence); test with header."""

    name = "cola"

    def get_labels(self):
        return ["0", "1"]

    def _create_examples(self, lines, set_type, file_name):
        examples = []
        for (i, line) in enumerate(lines):
            if set_type == "test" and i == 0:
                continue
            src = "%s line %d" % (file_name, i + 1)
            if set_type == "test":
                text_a, label = self._field(line, 1, file_name, i + 1), "0"
            else:
                text_a = self._field(line, 3, file_name, i + 1)
                label = self._field(line, 1, file_name, i + 1)
            examples.append(InputExample("%s-%d" % (set_type, i), text_a, None, label, src))
        return examples


class Sst2Processor(DataProcessor):
    """SST-2 (GLUE): header; train/dev: sentence, label; test: index, sentence."""

    name = "sst-2"

    def get_labels(self):
        return ["0", "1"]

    def _create_examples(self, lines, set_type, file_name):
        examples = []
        for (i, line) in enumerate(lines):
            if i == 0:
                continue
            src = "%s line %d" % (file_name, i + 1)
            if set_type == "test":
                text_a, label = self._field(line, 1, file_name, i + 1), "0"
            else:
                text_a = self._field(line, 0, file_name, i + 1)
                label = self._field(line, 1, file_name, i + 1)
            examples.append(InputExample("%s-%d" % (set_type, i), text_a, None, label, src))
        return examples


class MnliProcessor(DataProcessor):
    """MultiNLI (GLUE, matched dev/test): header; sentence1 = col 8, sentence2 = col 9, gold last."""

    name = "mnli"
    dev_file, test_file = "dev_matched.tsv", "test_matched.tsv"

    def get_labels(self):
        return ["contradiction", "entailment", "neutral"]

    def _create_examples(self, lines, set_type, file_name):
        examples = []
        for (i, line) in enumerate(lines):
            if i == 0:
                continue
            src = "%s line %d" % (file_name, i + 1)
            guid = "%s-%s" % (set_type, self._field(line, 0, file_name, i + 1))
            text_a = self._field(line, 8, file_name, i + 1)
            text_b = self._field(line, 9, file_name, i + 1)
            label = "contradiction" if set_type == "test" else convert_to_unicode(line[-1])
            examples.append(InputExample(guid, text_a, text_b, label, src))
        return examples


class XnliProcessor(DataProcessor):
    """XNLI: train = multinli/multinli.train.<lang>.tsv (premise, hypo, label; header),
    dev/test = xnli.dev.tsv / xnli.test.tsv (all languages; rows of `language` are kept)."""

    name = "xnli"
    train_file = os.path.join("multinli", "multinli.train.%s.tsv")
    dev_file, test_file = "xnli.dev.tsv", "xnli.test.tsv"

    def __init__(self, language="zh"):
        self.language = language
        self.train_file = XnliProcessor.train_file % language

    def get_labels(self):
        return ["contradiction", "entailment", "neutral"]

    def _create_examples(self, lines, set_type, file_name):
        examples = []
        for (i, line) in enumerate(lines):
            if i == 0:
                continue
            src = "%s line %d" % (file_name, i + 1)
            if set_type == "train":
                text_a = self._field(line, 0, file_name, i + 1)
                text_b = self._field(line, 1, file_name, i + 1)
                label = self._field(line, 2, file_name, i + 1)
                if label == "contradictory":
                    label = "contradiction"
            else:
                if self._field(line, 0, file_name, i + 1) != self.language:
                    continue
                text_a = self._field(line, 6, file_name, i + 1)
                text_b = self._field(line, 7, file_name, i + 1)
                label = self._field(line, 1, file_name, i + 1)
            examples.append(InputExample("%s-%d" % (set_type, i), text_a, text_b, label, src))
        return examples


class ChineseTsvProcessor(DataProcessor):
    """Generic Chinese TSV: single sentence (ChnSentiCorp: label, text_a) or pair (LCQMC:
    text_a, text_b, label). A first row naming a `label` column is a header and fixes the columns.
    Unlabelled test files may omit the label column."""

    TEXT_A = ("text_a", "text", "sentence", "sentence1", "query1", "review")
    TEXT_B = ("text_b", "sentence2", "query2")

    def __init__(self, name, pair, labels=("0", "1")):
        self.name = name
        self.pair = pair
        self.labels = list(labels)

    def get_labels(self):
        return list(self.labels)

    def _columns(self, lines):
        """(index of label or None, text_a, text_b or None, rows to skip)."""
        header = [c.strip().lower() for c in lines[0]] if lines else []
        if "label" in header:
            def find(names):
                for name in names:
                    if name in header:
                        return header.index(name)
                return None
            text_a, text_b = find(self.TEXT_A), find(self.TEXT_B)
            if text_a is None or (self.pair and text_b is None):
                raise ValueError("header %s of task %s lacks a text column (%s%s)"
                                 % (lines[0], self.name, "/".join(self.TEXT_A),
                                    "; " + "/".join(self.TEXT_B) if self.pair else ""))
            return header.index("label"), text_a, text_b, 1
        if header and any(name in header for name in self.TEXT_A):  # unlabelled test header
            text_b = None
            for name in self.TEXT_B:
                if name in header:
                    text_b = header.index(name)
            text_a = [header.index(n) for n in self.TEXT_A if n in header][0]
            return None, text_a, text_b, 1
        return (2, 0, 1, 0) if self.pair else (0, 1, None, 0)

    def _create_examples(self, lines, set_type, file_name):
        label_col, a_col, b_col, skip = self._columns(lines)
        examples = []
        for (i, line) in enumerate(lines):
            if i < skip or not line or not "".join(line).strip():
                continue
            src = "%s line %d" % (file_name, i + 1)
            text_a = self._field(line, a_col, file_name, i + 1)
            text_b = self._field(line, b_col, file_name, i + 1) if b_col is not None else None
            if label_col is None:
                label = self.labels[0]
            else:
                label = self._field(line, label_col, file_name, i + 1).strip()
            examples.append(InputExample("%s-%d" % (set_type, i), text_a, text_b, label, src))
        return examples


def get_processor(task_name, labels=None, xnli_language="zh"):
    """Processor of `task_name` (case-insensitive); ValueError listing the known tasks."""
    name = task_name.lower()
    single = lambda n: ChineseTsvProcessor(n, pair=False, labels=labels or ("0", "1"))  # noqa: E731
    pair = lambda n: ChineseTsvProcessor(n, pair=True, labels=labels or ("0", "1"))  # noqa: E731
    factories = collections.OrderedDict([
        ("mrpc", MrpcProcessor), ("cola", ColaProcessor), ("sst-2", Sst2Processor),
        ("sst2", Sst2Processor), ("mnli", MnliProcessor),
        ("xnli", lambda: XnliProcessor(xnli_language)),
        ("chnsenticorp", lambda: single("chnsenticorp")),
        ("tsv_single", lambda: single("tsv_single")),
        ("lcqmc", lambda: pair("lcqmc")), ("tsv_pair", lambda: pair("tsv_pair")),
    ])
    if name not in factories:
        raise ValueError("--task_name=%s is not a known task (%s)" % (task_name,
                                                                      ", ".join(factories)))
    return factories[name]()


# ----------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------

def truncate_seq_pair(tokens_a, tokens_b, max_length):
    """Truncates a pair in place, one token at a time from the longer sequence, to max_length."""
    while len(tokens_a) + len(tokens_b) > max_length:
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


def convert_single_example(ex_index, example, label_list, max_seq_length, tokenizer):
    """InputExample -> InputFeatures: [CLS] A [SEP] (B [SEP]) zero-padded to max_seq_length.

    Raises ValueError naming the file and line when the label is not one of `label_list`.
    """
    if isinstance(example, PaddingInputExample):
        return InputFeatures(input_ids=[0] * max_seq_length, input_mask=[0] * max_seq_length,
                             segment_ids=[0] * max_seq_length, label_id=0,
                             is_real_example=False)
    label_map = {label: i for (i, label) in enumerate(label_list)}
    if example.label not in label_map:
        raise ValueError("%s: label %r is not one of the task's labels %s"
                         % (example.source or example.guid, example.label, label_list))

    tokens_a = tokenizer.tokenize(example.text_a)
    tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
    if tokens_b:
        truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)   # [CLS] [SEP] [SEP]
    elif len(tokens_a) > max_seq_length - 2:
        tokens_a = tokens_a[0:(max_seq_length - 2)]                  # [CLS] [SEP]

    tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
    segment_ids = [0] * len(tokens)
    if tokens_b:
        tokens += tokens_b + ["[SEP]"]
        segment_ids += [1] * (len(tokens_b) + 1)
    input_ids = tokenizer.convert_tokens_to_ids(tokens)
    input_mask = [1] * len(input_ids)
    padding = max_seq_length - len(input_ids)
    input_ids += [0] * padding
    input_mask += [0] * padding
    segment_ids += [0] * padding

    if ex_index < 3:
        tf.logging.info("*** Example *** guid: %s tokens: %s label: %s (id = %d)", example.guid,
                        " ".join(tokens), example.label, label_map[example.label])
    return InputFeatures(input_ids=input_ids, input_mask=input_mask, segment_ids=segment_ids,
                         label_id=label_map[example.label], is_real_example=True)


def file_based_convert_examples_to_features(examples, label_list, max_seq_length, tokenizer,
                                            output_file, log_every=10000):
    """Writes the examples' features to a TFRecord file (whole or not at all)."""
    def int_feature(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    with atomic_io.replacing(output_file) as tmp, tf.io.TFRecordWriter(tmp) as writer:
        for (ex_index, example) in enumerate(examples):
            if log_every and ex_index and ex_index % log_every == 0:
                tf.logging.info("Writing example %d of %d", ex_index, len(examples))
            feature = convert_single_example(ex_index, example, label_list, max_seq_length,
                                             tokenizer)
            features = collections.OrderedDict()
            features["input_ids"] = int_feature(feature.input_ids)
            features["input_mask"] = int_feature(feature.input_mask)
            features["segment_ids"] = int_feature(feature.segment_ids)
            features["label_ids"] = int_feature([feature.label_id])
            features["is_real_example"] = int_feature([int(feature.is_real_example)])
            example_proto = tf.train.Example(features=tf.train.Features(feature=features))
            writer.write(example_proto.SerializeToString())


def pad_examples(examples, batch_size):
    """Appends PaddingInputExamples so that the count is a multiple of batch_size."""
    examples = list(examples)
    while len(examples) % batch_size != 0:
        examples.append(PaddingInputExample())
    return examples


def file_based_input_fn_builder(input_file, seq_length, is_training, drop_remainder, batch_size,
                                seed=None):
    """input_fn over a features TFRecord: int32 features, shuffled and repeated when training."""
    from common import feature_records
    lengths = {"input_ids": seq_length, "input_mask": seq_length, "segment_ids": seq_length,
               "label_ids": 0, "is_real_example": 0}
    return feature_records.int_features_input_fn(input_file, lengths, is_training, batch_size,
                                                 drop_remainder=drop_remainder, seed=seed)


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------

def _confusion_counts(labels, predictions, weights):
    """Streaming tp, tn, fp, fn (value, update) for binary labels (1 = positive)."""
    labels = tf.cast(labels, tf.bool)
    predictions = tf.cast(predictions, tf.bool)
    return (tf.metrics.true_positives(labels, predictions, weights),
            tf.metrics.true_negatives(labels, predictions, weights),
            tf.metrics.false_positives(labels, predictions, weights),
            tf.metrics.false_negatives(labels, predictions, weights))


def classification_metrics(task_name, per_example_loss, label_ids, logits, is_real_example):
    """eval_metric_ops: eval_accuracy, eval_loss; + eval_f1 (MRPC), eval_mcc (CoLA).

    Args:
      per_example_loss: float [B]; label_ids: int [B]; logits: float [B, C];
      is_real_example: float/int [B], 0 for batch padding (not counted).
    """
    weights = tf.cast(is_real_example, tf.float32)
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    metrics = {
        "eval_accuracy": tf.metrics.accuracy(labels=label_ids, predictions=predictions,
                                             weights=weights),
        "eval_loss": tf.metrics.mean(values=per_example_loss, weights=weights),
    }
    task = task_name.lower()
    if task in ("mrpc", "cola"):
        (tp, tp_up), (tn, tn_up), (fp, fp_up), (fn, fn_up) = _confusion_counts(
            label_ids, predictions, weights)
        update = tf.group(tp_up, tn_up, fp_up, fn_up)
        if task == "mrpc":
            f1 = 2.0 * tp / tf.maximum(2.0 * tp + fp + fn, 1e-12)
            metrics["eval_f1"] = (f1, update)
        else:
            numerator = tp * tn - fp * fn
            denominator = tf.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
            mcc = numerator / tf.maximum(denominator, 1e-12)
            metrics["eval_mcc"] = (mcc, update)
    return metrics
