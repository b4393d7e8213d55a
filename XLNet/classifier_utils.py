# coding=utf-8
"""XLNet classifier features (zihangdai/xlnet classifier_utils.py): sentencepiece ids,
A <sep> (B <sep>) <cls> with the padding on the LEFT, so <cls> is always the last position.

    segment ids: A = 0 (its <sep> too), B = 1 (its <sep> too), <cls> = 2, padding = 4
    input_mask:  float, 0 on real tokens and 1 on padding (the model's convention)
    input_ids:   padding positions hold 0, as the original writes them (masked anyway)
Examples come from common/classifier_data.py's processors (InputExample); regression tasks
(STS-B) carry a float label.
"""

import collections

import tensorflow.compat.v1 as tf

from common import atomic_io
from common.classifier_data import PaddingInputExample, truncate_seq_pair

# Special ids of the XLNet sentencepiece vocabulary (data_utils.special_symbols).
SPECIAL_SYMBOLS = collections.OrderedDict([("<unk>", 0), ("<s>", 1), ("</s>", 2), ("<cls>", 3),
                                           ("<sep>", 4), ("<pad>", 5), ("<mask>", 6),
                                           ("<eod>", 7), ("<eop>", 8)])
UNK_ID, CLS_ID, SEP_ID, PAD_ID, MASK_ID = 0, 3, 4, 5, 6
EOD_ID, EOP_ID = 7, 8
SEG_ID_A, SEG_ID_B, SEG_ID_CLS, SEG_ID_SEP, SEG_ID_PAD = 0, 1, 2, 3, 4


class InputFeatures(object):
    def __init__(self, input_ids, input_mask, segment_ids, label_id, is_real_example=True):
        self.input_ids = input_ids
        self.input_mask = input_mask
        self.segment_ids = segment_ids
        self.label_id = label_id
        self.is_real_example = is_real_example


def convert_single_example(example, label_list, max_seq_length, tokenize_fn):
    """InputExample -> InputFeatures. label_list None = regression (float label)."""
    if isinstance(example, PaddingInputExample):
        return InputFeatures([0] * max_seq_length, [1.0] * max_seq_length, [0] * max_seq_length,
                             0, is_real_example=False)
    if label_list is not None:
        label_map = {label: i for i, label in enumerate(label_list)}
        if example.label not in label_map:
            raise ValueError("%s: label %r is not one of the task's labels %s"
                             % (example.source or example.guid, example.label, label_list))
        label_id = label_map[example.label]
    else:
        try:
            label_id = float(example.label)
        except (TypeError, ValueError):
            raise ValueError("%s: regression label %r is not a number"
                             % (example.source or example.guid, example.label))
    tokens_a = tokenize_fn(example.text_a)
    tokens_b = tokenize_fn(example.text_b) if example.text_b else None
    if tokens_b:
        truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
    elif len(tokens_a) > max_seq_length - 2:
        tokens_a = tokens_a[:max_seq_length - 2]
    tokens = tokens_a + [SEP_ID]
    segment_ids = [SEG_ID_A] * len(tokens)
    if tokens_b:
        tokens += tokens_b + [SEP_ID]
        segment_ids += [SEG_ID_B] * (len(tokens_b) + 1)
    tokens.append(CLS_ID)
    segment_ids.append(SEG_ID_CLS)
    delta = max_seq_length - len(tokens)
    return InputFeatures(input_ids=[0] * delta + tokens,
                         input_mask=[1.0] * delta + [0.0] * len(tokens),
                         segment_ids=[SEG_ID_PAD] * delta + segment_ids, label_id=label_id)


def file_based_convert_examples_to_features(examples, label_list, max_seq_length, tokenize_fn,
                                            output_file):
    """Writes the features as TFRecords (whole or not at all). Returns the number written."""
    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    def floats(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))

    count = 0
    with atomic_io.replacing(output_file) as tmp, tf.io.TFRecordWriter(tmp) as writer:
        for example in examples:
            feature = convert_single_example(example, label_list, max_seq_length, tokenize_fn)
            features = collections.OrderedDict()
            features["input_ids"] = ints(feature.input_ids)
            features["input_mask"] = floats(feature.input_mask)
            features["segment_ids"] = ints(feature.segment_ids)
            features["label_ids"] = (ints([feature.label_id]) if label_list is not None
                                     else floats([feature.label_id]))
            features["is_real_example"] = ints([int(feature.is_real_example)])
            writer.write(tf.train.Example(features=tf.train.Features(
                feature=features)).SerializeToString())
            count += 1
    return count


def file_based_input_fn_builder(input_file, seq_length, is_training, batch_size, regression=False,
                                seed=None):
    name_to_features = {
        "input_ids": tf.FixedLenFeature([seq_length], tf.int64),
        "input_mask": tf.FixedLenFeature([seq_length], tf.float32),
        "segment_ids": tf.FixedLenFeature([seq_length], tf.int64),
        "label_ids": tf.FixedLenFeature([], tf.float32 if regression else tf.int64),
        "is_real_example": tf.FixedLenFeature([], tf.int64),
    }

    def decode(record):
        example = tf.parse_single_example(record, name_to_features)
        return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}

    def input_fn(params=None):
        del params
        d = tf.data.TFRecordDataset(input_file)
        if is_training:
            d = d.repeat().shuffle(buffer_size=1000, seed=seed)
        d = d.map(decode, num_parallel_calls=2)
        return d.batch(batch_size, drop_remainder=True).prefetch(2)

    return input_fn
