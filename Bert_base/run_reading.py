# coding=utf-8
"""BERT fine-tuning for extractive reading comprehension (google-research/bert run_squad.py, v1.1):
SQuAD v1.1 / CMRC 2018 JSON, sliding windows over the context, start / end logits, n-best span
decoding, answers mapped back onto the original characters; see common/squad_data.py.

Files in --data_dir: train.json (--do_train), dev.json (--do_eval: predictions + EM / F1 by the
official definitions, --eval_metric), test.json (--do_predict: predictions only).
Outputs: <output_dir>/{dev,test}_predictions.json and *_nbest_predictions.json.

    python Bert_base/run_reading.py --data_dir=cmrc2018 --vocab_file=$BERT/vocab.txt \
        --bert_config_file=$BERT/bert_config.json --init_checkpoint=$BERT/bert_model.ckpt \
        --do_train --do_eval --max_seq_length=384 --doc_stride=128 --output_dir=out
"""

import os

import tensorflow.compat.v1 as tf
from absl import flags

if not __package__:  # run as `python Bert_base/run_reading.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from Bert_base import finetune_common
from common import cli, eval_phases, feature_records, npu_runconfig, squad_data, transformer
from common import flags as common_flags
from common import tokenization

common_flags.define_common_flags()
flags.DEFINE_alias("npu_bert_loss_scale", "loss_scale")
finetune_common.define_flags(default_seq_length=384)
flags.DEFINE_integer("doc_stride", 128, "Pieces between the starts of two context windows.",
                     lower_bound=1)
flags.DEFINE_integer("max_query_length", 64, "Question pieces kept (the rest is cut).",
                     lower_bound=1)
flags.DEFINE_integer("n_best_size", 20, "Start / end candidates per window, and n-best list size.",
                     lower_bound=1)
flags.DEFINE_integer("max_answer_length", 30, "Longest answer in pieces.", lower_bound=1)
flags.DEFINE_enum("eval_metric", "auto", ["auto", "squad_v1", "cmrc2018"],
                  "EM / F1 definition: squad_v1 (evaluate-v1.1.py), cmrc2018 (character-level "
                  "for Chinese); auto = cmrc2018 when the contexts are Chinese.")
FLAGS = flags.FLAGS

NETWORK = "Bert_base"


def create_model(bert_config, is_training, features, use_one_hot_embeddings):
    """BERT + run_squad's span layer cls/squad/output_weights [2, H], output_bias [2].
    Returns (start_logits [B, S], end_logits [B, S])."""
    model = finetune_common.bert_encoder(bert_config, is_training, features,
                                         use_one_hot_embeddings)
    sequence = model.get_sequence_output()
    batch_size, seq_length, hidden_size = transformer.get_shape_list(sequence, expected_rank=3)
    output_weights = tf.get_variable(
        "cls/squad/output_weights", [2, hidden_size],
        initializer=transformer.create_initializer(bert_config.initializer_range))
    output_bias = tf.get_variable("cls/squad/output_bias", [2], initializer=tf.zeros_initializer())
    flat = tf.reshape(sequence, [batch_size * seq_length, hidden_size])
    logits = tf.nn.bias_add(tf.matmul(flat, output_weights, transpose_b=True), output_bias)
    logits = tf.transpose(tf.reshape(tf.cast(logits, tf.float32), [batch_size, seq_length, 2]),
                          [2, 0, 1])
    return logits[0], logits[1]


def model_fn_builder(bert_config, init_checkpoint, learning_rate, num_train_steps,
                     num_warmup_steps, recorder, use_one_hot_embeddings=False):
    def model_fn(features, labels, mode, params):
        del labels, params
        is_training = mode == tf.estimator.ModeKeys.TRAIN
        start_logits, end_logits = create_model(bert_config, is_training, features,
                                                use_one_hot_embeddings)
        total_loss = None
        if is_training:
            seq_length = transformer.get_shape_list(features["input_ids"])[1]

            def compute_loss(logits, positions):
                one_hot = tf.one_hot(positions, depth=seq_length, dtype=tf.float32)
                log_probs = tf.nn.log_softmax(logits, axis=-1)
                return -tf.reduce_mean(tf.reduce_sum(one_hot * log_probs, axis=-1))

            total_loss = (compute_loss(start_logits, features["start_positions"]) +
                          compute_loss(end_logits, features["end_positions"])) / 2.0
        predictions = {"unique_ids": features["unique_ids"], "start_logits": start_logits,
                       "end_logits": end_logits}
        return finetune_common.init_and_spec(
            FLAGS, mode, total_loss, predictions, init_checkpoint, learning_rate,
            num_train_steps, num_warmup_steps, recorder)
    return model_fn


def feature_lengths(is_training):
    lengths = {"unique_ids": 0, "input_ids": FLAGS.max_seq_length,
               "input_mask": FLAGS.max_seq_length, "segment_ids": FLAGS.max_seq_length}
    if is_training:
        lengths.update(start_positions=0, end_positions=0)
    return lengths


def predict(estimator, examples, tokenizer, batch_size, name):
    """(predictions {id: text}, nbest) of `examples`."""
    features = squad_data.convert_examples_to_features(
        examples, tokenizer, FLAGS.max_seq_length, FLAGS.doc_stride, FLAGS.max_query_length,
        is_training=False)
    dicts = [squad_data.feature_dict(f, False) for f in features]
    padding = dict(dicts[0], unique_ids=0)
    outputs = finetune_common.predict_records(
        estimator, os.path.join(FLAGS.output_dir, name + ".tf_record"),
        finetune_common.pad_to_batches(dicts, batch_size, padding), feature_lengths(False),
        batch_size, len(dicts))
    results = {int(o["unique_ids"]): ([float(x) for x in o["start_logits"]],
                                      [float(x) for x in o["end_logits"]]) for o in outputs}
    tf.logging.info("%s: %d questions, %d windows", name, len(examples), len(features))
    return squad_data.decode_predictions(examples, features, results, FLAGS.n_best_size,
                                         FLAGS.max_answer_length, FLAGS.do_lower_case)


def read(split, is_training):
    path = os.path.join(FLAGS.data_dir, split + ".json")
    if not os.path.isfile(path):
        raise FileNotFoundError("data file not found: %s (SQuAD-format JSON)" % path)
    return squad_data.read_squad_examples(path, is_training)


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    bert_config = finetune_common.check_flags(FLAGS)
    if FLAGS.max_seq_length <= FLAGS.max_query_length + 3:
        raise npu_runconfig.UsageError(
            "--max_seq_length=%d must exceed --max_query_length=%d + 3 (room for the context)"
            % (FLAGS.max_seq_length, FLAGS.max_query_length))
    tokenizer = tokenization.FullTokenizer(vocab_file=FLAGS.vocab_file,
                                           do_lower_case=FLAGS.do_lower_case)
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    train_examples = read("train", True) if FLAGS.do_train else None
    dev_examples = read("dev", False) if FLAGS.do_eval else None
    test_examples = read("test", False) if FLAGS.do_predict else None

    runtime, recorder = finetune_common.runtime_and_recorder(FLAGS, NETWORK, "reading")
    num_train_steps = num_warmup_steps = 0
    if FLAGS.do_train:
        train_features = squad_data.convert_examples_to_features(
            train_examples, tokenizer, FLAGS.max_seq_length, FLAGS.doc_stride,
            FLAGS.max_query_length, is_training=True)
        num_train_steps, num_warmup_steps = finetune_common.train_steps(FLAGS, len(train_features))
    model_fn = model_fn_builder(bert_config, FLAGS.init_checkpoint, FLAGS.learning_rate,
                                num_train_steps, num_warmup_steps, recorder,
                                FLAGS.use_one_hot_embeddings)
    estimator = npu_runconfig.build_estimator(model_fn, runtime.run_config(FLAGS.output_dir))

    if FLAGS.do_train:
        train_file = os.path.join(FLAGS.output_dir, "train.tf_record")
        feature_records.write_int_features(
            train_file, (squad_data.feature_dict(f, True) for f in train_features))
        tf.logging.info("***** Running training: %d questions (%d windows), batch size %d, "
                        "%d steps *****", len(train_examples), len(train_features),
                        FLAGS.train_batch_size, num_train_steps)
        input_fn = feature_records.int_features_input_fn(
            train_file, feature_lengths(True), is_training=True,
            batch_size=FLAGS.train_batch_size, seed=FLAGS.seed)
        with recorder.timed("train"):
            estimator.train(input_fn=input_fn, max_steps=num_train_steps)

    if FLAGS.do_eval:
        with recorder.timed("eval"):
            predictions, nbest = predict(estimator, dev_examples, tokenizer,
                                         FLAGS.eval_batch_size, "eval")
        squad_data.write_predictions(FLAGS.output_dir, predictions, nbest, prefix="dev_")
        metric = (squad_data.choose_metric(dev_examples) if FLAGS.eval_metric == "auto"
                  else FLAGS.eval_metric)
        scores = squad_data.evaluate(dev_examples, predictions, metric)
        result = {"eval_exact_match": scores["exact_match"], "eval_f1": scores["f1"],
                  "eval_questions": scores["total"]}
        print("%s evaluation: EM %.4f, F1 %.4f over %d questions"
              % (metric, scores["exact_match"], scores["f1"], scores["total"]), flush=True)
        eval_phases.write_eval_results(result, FLAGS.output_dir)
        recorder.set_metrics(result, precision=("EM", result["eval_exact_match"]))

    if FLAGS.do_predict:
        with recorder.timed("predict"):
            predictions, nbest = predict(estimator, test_examples, tokenizer,
                                         FLAGS.predict_batch_size, "predict")
        path = squad_data.write_predictions(FLAGS.output_dir, predictions, nbest, prefix="test_")
        print("predictions: %s (%d questions)" % (path, len(predictions)), flush=True)

    recorder.write(FLAGS.results_json or os.path.join(FLAGS.output_dir, "results.json"))


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="data_dir")
