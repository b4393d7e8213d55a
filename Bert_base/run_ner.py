# coding=utf-8
"""BERT fine-tuning for named-entity recognition (token classification on the sequence output).

Input: a --data_dir with train / dev / test files, CoNLL-style `token TAG` text (train.txt, ...;
BIO, BIOES or BMES tags) or CLUENER 2020 JSON lines (train.json, ...); see common/ner_data.py.
Labels come from --label_list, else the training file (saved as <output_dir>/label_list.txt for
later eval / predict runs). Evaluation: conlleval-style entity precision / recall / F1, per type
and micro-averaged (Final Precision F1). --do_predict writes the tagged test set.

    python Bert_base/run_ner.py --data_dir=ner_data --vocab_file=$BERT/vocab.txt \
        --bert_config_file=$BERT/bert_config.json --init_checkpoint=$BERT/bert_model.ckpt \
        --do_train --do_eval --output_dir=out
"""

import os

import tensorflow.compat.v1 as tf
from absl import flags

if not __package__:  # run as `python Bert_base/run_ner.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from Bert_base import finetune_common
from common import cli, eval_phases, feature_records, ner_data, npu_runconfig, transformer
from common import flags as common_flags
from common import tokenization
from common.atomic_io import write_text

common_flags.define_common_flags()
flags.DEFINE_alias("npu_bert_loss_scale", "loss_scale")
finetune_common.define_flags()
flags.DEFINE_enum("data_format", "auto", ["auto", "conll", "cluener"],
                  "Input files: conll (train.txt, `token TAG` lines), cluener (train.json, JSON "
                  "lines); auto = whichever --data_dir holds.")
flags.DEFINE_list("label_list", None, "Tags (e.g. O,B-PER,I-PER); default: read from the "
                  "training file, or <output_dir>/label_list.txt of the training run.")
FLAGS = flags.FLAGS

NETWORK = "Bert_base"
LABEL_FILE = "label_list.txt"


def create_model(bert_config, is_training, features, num_labels, use_one_hot_embeddings):
    """BERT + a per-token softmax layer. Returns (loss, logits [B, S, L], predictions [B, S]).

    The loss is the mean cross entropy over the positions with label_mask 1 (each original
    token's first piece); head variables output_weights [L, H], output_bias [L]."""
    model = finetune_common.bert_encoder(bert_config, is_training, features,
                                         use_one_hot_embeddings)
    sequence = model.get_sequence_output()
    batch_size, seq_length, hidden_size = transformer.get_shape_list(sequence, expected_rank=3)
    output_weights = tf.get_variable(
        "output_weights", [num_labels, hidden_size],
        initializer=transformer.create_initializer(bert_config.initializer_range))
    output_bias = tf.get_variable("output_bias", [num_labels], initializer=tf.zeros_initializer())
    with tf.variable_scope("loss"):
        if is_training:
            sequence = transformer.dropout(sequence, 0.1)
        flat = tf.reshape(sequence, [-1, hidden_size])
        logits = tf.nn.bias_add(tf.matmul(flat, output_weights, transpose_b=True), output_bias)
        logits = tf.reshape(tf.cast(logits, tf.float32), [batch_size, seq_length, num_labels])
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        one_hot = tf.one_hot(features["label_ids"], depth=num_labels, dtype=tf.float32)
        per_token_loss = -tf.reduce_sum(one_hot * log_probs, axis=-1)
        weights = tf.cast(features["label_mask"], tf.float32)
        loss = tf.reduce_sum(per_token_loss * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
        predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return loss, logits, predictions


def model_fn_builder(bert_config, num_labels, init_checkpoint, learning_rate, num_train_steps,
                     num_warmup_steps, recorder, use_one_hot_embeddings=False):
    def model_fn(features, labels, mode, params):
        del labels, params
        is_training = mode == tf.estimator.ModeKeys.TRAIN
        loss, _, predictions = create_model(bert_config, is_training, features, num_labels,
                                            use_one_hot_embeddings)
        return finetune_common.init_and_spec(
            FLAGS, mode, loss, {"predictions": predictions}, init_checkpoint, learning_rate,
            num_train_steps, num_warmup_steps, recorder)
    return model_fn


def feature_lengths(max_seq_length):
    return {name: max_seq_length for name in ner_data.padding_feature(1)}


def resolve_labels(train_examples):
    """--label_list, else the training set's tags, else the training run's label_list.txt."""
    if FLAGS.label_list:
        labels = [label.strip() for label in FLAGS.label_list if label.strip()]
        for label in labels:
            ner_data.split_tag(label, "--label_list")
        return labels if "O" in labels else ["O"] + labels
    if train_examples:
        return ner_data.labels_of(train_examples)
    path = os.path.join(FLAGS.output_dir, LABEL_FILE)
    if not os.path.isfile(path):
        raise npu_runconfig.UsageError("no labels: give --label_list or --do_train (which writes "
                                       "%s)" % path)
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def predict_tags(estimator, examples, label_list, tokenizer, batch_size, name):
    """Predicted tags of every original token of `examples`."""
    features, windows = ner_data.convert_examples_to_features(
        examples, label_list, FLAGS.max_seq_length, tokenizer)
    padded = finetune_common.pad_to_batches(features, batch_size,
                                            ner_data.padding_feature(FLAGS.max_seq_length))
    outputs = finetune_common.predict_records(
        estimator, os.path.join(FLAGS.output_dir, name + ".tf_record"), padded,
        feature_lengths(FLAGS.max_seq_length), batch_size, len(features))
    return ner_data.tags_from_predictions(examples, windows, features,
                                          [o["predictions"] for o in outputs], label_list)


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    bert_config = finetune_common.check_flags(FLAGS)
    data_format = (ner_data.detect_format(FLAGS.data_dir) if FLAGS.data_format == "auto"
                   else FLAGS.data_format)
    tokenizer = tokenization.FullTokenizer(vocab_file=FLAGS.vocab_file,
                                           do_lower_case=FLAGS.do_lower_case)
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    train_examples = (ner_data.read_split(FLAGS.data_dir, "train", data_format)
                      if FLAGS.do_train else None)
    dev_examples = ner_data.read_split(FLAGS.data_dir, "dev", data_format) if FLAGS.do_eval else None
    test_examples = (ner_data.read_split(FLAGS.data_dir, "test", data_format)
                     if FLAGS.do_predict else None)
    label_list = resolve_labels(train_examples)
    for examples in (train_examples, dev_examples, test_examples):
        if examples:
            ner_data.check_labels(examples, label_list)

    runtime, recorder = finetune_common.runtime_and_recorder(FLAGS, NETWORK, "ner")
    num_train_steps = num_warmup_steps = 0
    if FLAGS.do_train:
        train_features, _ = ner_data.convert_examples_to_features(
            train_examples, label_list, FLAGS.max_seq_length, tokenizer)
        num_train_steps, num_warmup_steps = finetune_common.train_steps(FLAGS, len(train_features))
        write_text(os.path.join(FLAGS.output_dir, LABEL_FILE), "".join(l + "\n" for l in label_list))
    model_fn = model_fn_builder(bert_config, len(label_list), FLAGS.init_checkpoint,
                                FLAGS.learning_rate, num_train_steps, num_warmup_steps, recorder,
                                FLAGS.use_one_hot_embeddings)
    estimator = npu_runconfig.build_estimator(model_fn, runtime.run_config(FLAGS.output_dir))

    if FLAGS.do_train:
        train_file = os.path.join(FLAGS.output_dir, "train.tf_record")
        feature_records.write_int_features(train_file, train_features)
        tf.logging.info("***** Running training: %d sentences (%d features), labels %s, batch "
                        "size %d, %d steps *****", len(train_examples), len(train_features),
                        ",".join(label_list), FLAGS.train_batch_size, num_train_steps)
        input_fn = feature_records.int_features_input_fn(
            train_file, feature_lengths(FLAGS.max_seq_length), is_training=True,
            batch_size=FLAGS.train_batch_size, seed=FLAGS.seed)
        with recorder.timed("train"):
            estimator.train(input_fn=input_fn, max_steps=num_train_steps)

    if FLAGS.do_eval:
        with recorder.timed("eval"):
            predicted = predict_tags(estimator, dev_examples, label_list, tokenizer,
                                     FLAGS.eval_batch_size, "eval")
        metrics = ner_data.entity_metrics([ex.tags for ex in dev_examples], predicted)
        result = {"eval_precision": metrics["micro"]["precision"],
                  "eval_recall": metrics["micro"]["recall"], "eval_f1": metrics["micro"]["f1"],
                  "eval_sentences": len(dev_examples)}
        for kind, m in metrics["per_type"].items():
            result["eval_f1_%s" % kind] = m["f1"]
        print("\n".join(ner_data.metrics_lines(metrics)), flush=True)
        eval_phases.write_eval_results(result, FLAGS.output_dir)
        ner_data.write_predictions(os.path.join(FLAGS.output_dir, "dev_predictions." + (
            "json" if data_format == "cluener" else "txt")), dev_examples, predicted, data_format)
        recorder.set_metrics(result, precision=("F1", result["eval_f1"]))

    if FLAGS.do_predict:
        with recorder.timed("predict"):
            predicted = predict_tags(estimator, test_examples, label_list, tokenizer,
                                     FLAGS.predict_batch_size, "predict")
        path = os.path.join(FLAGS.output_dir, "test_predictions." + (
            "json" if data_format == "cluener" else "txt"))
        ner_data.write_predictions(path, test_examples, predicted, data_format)
        print("predictions: %s (%d sentences)" % (path, len(test_examples)), flush=True)

    recorder.write(FLAGS.results_json or os.path.join(FLAGS.output_dir, "results.json"))


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="data_dir")
