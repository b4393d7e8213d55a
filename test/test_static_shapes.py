"""Every model's training and evaluation input has a static batch dimension (the NPU compiles one
shape); ResNeXt's padded last evaluation batch counts only the real images."""
import glob
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from common import classifier_data, demo_data, pretraining_data
from common.tokenization import wordpiece
from ResNext50 import demo_images, preprocessing

del demo_images  # imported to register the digits data set


def batch_dims(dataset):
    shapes = tf.nest.flatten(tf.data.get_output_shapes(dataset))
    return [shape.as_list()[0] for shape in shapes]


@pytest.fixture(scope="module")
def digits():
    return demo_data.prepare("resnext_digits")


@pytest.mark.parametrize("is_training", [True, False])
def test_resnext_batches_are_static(tf_graph, digits, is_training):
    files = sorted(glob.glob(os.path.join(digits, ("train-*" if is_training else "validation-*"))))
    dataset = preprocessing.build_dataset(files, is_training, 7, 32, 10)
    assert batch_dims(dataset) == [7, 7]


def test_resnext_eval_padding_is_weighed_out(tf_graph, digits):
    files = sorted(glob.glob(os.path.join(digits, "validation-*")))
    dataset = preprocessing.build_dataset(files, False, 7, 32, 10)   # 300 images = 42 * 7 + 6
    labels = tf.data.make_one_shot_iterator(dataset).get_next()[1]
    weights = preprocessing.real_example_weights(labels)
    seen, batches = [], 0
    with tf.Session() as sess:
        while True:
            try:
                label_values, weight_values = sess.run([labels, weights])
            except tf.errors.OutOfRangeError:
                break
            batches += 1
            seen.extend(label_values[weight_values > 0])
    assert batches == 43 and len(seen) == 300          # ceil(300 / 7), every real image once
    assert min(seen) >= 0 and set(seen) == set(range(10))


def test_bert_inputs_are_static(tf_graph, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]) + "\n")
    tokenizer = wordpiece.FullTokenizer(str(vocab), do_lower_case=True)
    examples = [classifier_data.InputExample("g%d" % i, "a b c", label="0") for i in range(5)]
    record = str(tmp_path / "train.tf_record")
    classifier_data.file_based_convert_examples_to_features(examples, ["0", "1"], 16, tokenizer,
                                                            record)
    for training in (True, False):
        dataset = classifier_data.file_based_input_fn_builder(
            record, 16, is_training=training, drop_remainder=True, batch_size=2)()
        assert set(batch_dims(dataset)) == {2}
    pretrain = demo_data.prepare("bert_pretrain")
    for training in (True, False):
        dataset = pretraining_data.input_fn_builder(
            [os.path.join(pretrain, "train.tfrecord")], 128, 20, training, batch_size=4)()
        assert set(batch_dims(dataset)) == {4}
