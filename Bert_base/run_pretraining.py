# coding=utf-8
"""BERT pretraining: masked LM + next sentence prediction (google-research/bert run_pretraining.py).

Reads the TFRecords of create_pretraining_data.py (ours or the original's: same features), trains
with AdamWeightDecay + linear warmup + polynomial decay from common/, loss scaling and precision
through common/, and evaluates masked-LM and next-sentence accuracy.

    python Bert_base/run_pretraining.py --input_file=data/*.tfrecord --output_dir=out \
        --bert_config_file=configs/bert_base.json --do_train --do_eval \
        --train_batch_size=32 --max_seq_length=128 --max_predictions_per_seq=20 \
        --num_train_steps=100000 --num_warmup_steps=10000 --learning_rate=1e-4
"""

import os

import tensorflow.compat.v1 as tf
from absl import flags

if not __package__:  # run as `python Bert_base/run_pretraining.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from Bert_base import export_checkpoint, modeling
from common import (checkpoint_utils, eval_phases, npu_runconfig, optimization, pretraining_data,
                    transformer)
from common import cli
from common import flags as common_flags
from common.demo_data.text import results_task_name
from common.npu_compat import NPUEstimatorSpec
from common.results import RunRecorder
from common import synthetic_input

common_flags.define_common_flags()
# The delivery's name of the loss-scale flag (-1 off, 0 dynamic, >= 1 static).
flags.DEFINE_alias("npu_bert_loss_scale", "loss_scale")

flags.DEFINE_string("bert_config_file", None, "bert_config.json of the model to train.")
flags.DEFINE_string("input_file", None, "Input TFRecord file(s): comma-separated globs.")
flags.DEFINE_string("eval_input_file", None, "TFRecords to evaluate on (default: --input_file).")
flags.DEFINE_string("output_dir", None, "Checkpoints and results go here.")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint (prefix or folder) to start from.")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length of the TFRecords.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per sequence in the TFRecords.")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate (masked LM / next sentence accuracy and loss).")
flags.DEFINE_integer("train_batch_size", 32, "Training batch size.")
flags.DEFINE_integer("eval_batch_size", 8, "Eval batch size.")
flags.DEFINE_float("learning_rate", 5e-5, "Initial learning rate.")
flags.DEFINE_integer("num_train_steps", 100000, "Training steps.")
flags.DEFINE_integer("num_warmup_steps", 10000, "Linear warmup steps (unless --warmup_proportion).")
flags.DEFINE_float("warmup_proportion", None, "Fraction of --num_train_steps with linear warmup; "
                   "overrides --num_warmup_steps (the delivery scripts pass it).")
flags.DEFINE_integer("max_eval_steps", 100, "At most this many eval batches (each example once).")
flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"], "AdamWeightDecay (BERT) or LAMB.")
flags.DEFINE_bool("use_one_hot_embeddings", False, "One-hot matmul embedding lookup.")
flags.DEFINE_string("export_dir", None, "After training, write a clean checkpoint (model "
                    "variables + global_step) and bert_config.json (+ --vocab_file) here.")
flags.DEFINE_string("vocab_file", None, "Optional: vocabulary copied into --export_dir.")
FLAGS = flags.FLAGS

NETWORK = "Bert_base"


def model_fn_builder(bert_config, init_checkpoint, learning_rate, num_train_steps,
                     num_warmup_steps, recorder, use_one_hot_embeddings=False):
    """The Estimator model_fn: BERT + MLM head (tied decoder) + NSP head."""

    def model_fn(features, labels, mode, params):
        del labels, params
        is_training = mode == tf.estimator.ModeKeys.TRAIN
        model = modeling.BertModel(
            config=bert_config, is_training=is_training, input_ids=features["input_ids"],
            input_mask=features["input_mask"], token_type_ids=features["segment_ids"],
            use_one_hot_embeddings=use_one_hot_embeddings)

        masked_lm_loss, masked_lm_example_loss, masked_lm_log_probs = \
            transformer.masked_lm_output(
                model.get_sequence_output(), model.get_embedding_table(),
                features["masked_lm_positions"], features["masked_lm_ids"],
                features["masked_lm_weights"], hidden_size=bert_config.hidden_size,
                hidden_act=bert_config.hidden_act,
                initializer_range=bert_config.initializer_range)
        next_sentence_loss, next_sentence_example_loss, next_sentence_log_probs = \
            transformer.next_sentence_output(
                model.get_pooled_output(), features["next_sentence_labels"],
                hidden_size=bert_config.hidden_size,
                initializer_range=bert_config.initializer_range)
        total_loss = masked_lm_loss + next_sentence_loss

        if init_checkpoint:
            checkpoint_utils.init_from_checkpoint(init_checkpoint, tf.trainable_variables(),
                                                  log=is_training)

        if is_training:
            train_op, train_tensors = optimization.create_optimizer(
                total_loss, init_lr=learning_rate, num_train_steps=num_train_steps,
                num_warmup_steps=num_warmup_steps, optimizer=FLAGS.optimizer,
                loss_scale=FLAGS.loss_scale)
            train_tensors["mlm_loss"] = masked_lm_loss
            train_tensors["nsp_loss"] = next_sentence_loss
            return NPUEstimatorSpec(mode=mode, loss=total_loss, train_op=train_op,
                                    training_hooks=[recorder.hook(total_loss, train_tensors)])
        if mode == tf.estimator.ModeKeys.EVAL:
            metrics = eval_phases.pretraining_metric_ops(
                features, masked_lm_log_probs, masked_lm_example_loss, next_sentence_log_probs,
                next_sentence_example_loss, "next_sentence")
            return NPUEstimatorSpec(mode=mode, loss=total_loss, eval_metric_ops=metrics)
        raise ValueError("only TRAIN and EVAL modes are supported, got %s" % mode)

    return model_fn


def check_flags():
    if not FLAGS.do_train and not FLAGS.do_eval:
        raise npu_runconfig.UsageError("at least one of --do_train or --do_eval must be True")
    for name in ("bert_config_file", "input_file", "output_dir"):
        if not getattr(FLAGS, name):
            raise npu_runconfig.UsageError("--%s is required" % name)
    bert_config = modeling.BertConfig.from_json_file(FLAGS.bert_config_file)
    npu_runconfig.check_max_seq_length(FLAGS.max_seq_length, bert_config, "bert_config_file",
                                       FLAGS.bert_config_file)
    if FLAGS.init_checkpoint:
        FLAGS.init_checkpoint = checkpoint_utils.resolve_checkpoint(FLAGS.init_checkpoint)
    if FLAGS.vocab_file and not os.path.isfile(FLAGS.vocab_file):
        raise FileNotFoundError("--vocab_file=%s not found" % FLAGS.vocab_file)
    if FLAGS.warmup_proportion is not None:
        if not 0 <= FLAGS.warmup_proportion <= 1:
            raise npu_runconfig.UsageError("--warmup_proportion must be in [0, 1], got %g"
                                           % FLAGS.warmup_proportion)
        FLAGS.num_warmup_steps = int(FLAGS.num_train_steps * FLAGS.warmup_proportion)
    if FLAGS.num_warmup_steps > FLAGS.num_train_steps:
        raise npu_runconfig.UsageError("--num_warmup_steps=%d > --num_train_steps=%d"
                                       % (FLAGS.num_warmup_steps, FLAGS.num_train_steps))
    return bert_config


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    bert_config = check_flags()
    input_files = pretraining_data.expand_input_patterns(FLAGS.input_file)
    pretraining_data.check_tfrecords(input_files, "input_file", FLAGS.max_seq_length,
                                     FLAGS.max_predictions_per_seq, bert_config.vocab_size)
    eval_files = input_files
    if FLAGS.eval_input_file:
        eval_files = pretraining_data.expand_input_patterns(FLAGS.eval_input_file)
        pretraining_data.check_tfrecords(eval_files, "eval_input_file", FLAGS.max_seq_length,
                                         FLAGS.max_predictions_per_seq, bert_config.vocab_size)
    tf.logging.info("*** Input files: %s", ", ".join(input_files))
    os.makedirs(FLAGS.output_dir, exist_ok=True)

    runtime = npu_runconfig.resolve(FLAGS)
    task = "pretraining"
    task = results_task_name(task, input_files[0])
    recorder = RunRecorder(network=NETWORK, task=task,
                           batch_size=FLAGS.train_batch_size, unit="sentences/sec",
                           runtime=runtime, skip_steps=FLAGS.timing_skip_steps)
    model_fn = model_fn_builder(bert_config, FLAGS.init_checkpoint, FLAGS.learning_rate,
                                FLAGS.num_train_steps, FLAGS.num_warmup_steps, recorder,
                                FLAGS.use_one_hot_embeddings)
    estimator = npu_runconfig.build_estimator(model_fn, runtime.run_config(FLAGS.output_dir))

    if FLAGS.do_train:
        npu_runconfig.check_loop_alignment(FLAGS.num_train_steps, FLAGS.iterations_per_loop,
                                           "num_train_steps")
        print(checkpoint_utils.training_start_line(FLAGS.output_dir, FLAGS.num_train_steps,
                                                   FLAGS.init_checkpoint), flush=True)
        tf.logging.info("***** Running training: batch size %d, %d steps *****",
                        FLAGS.train_batch_size, FLAGS.num_train_steps)
        train_input_fn = pretraining_data.input_fn_builder(
            input_files, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq, True,
            FLAGS.train_batch_size, runtime.rank_id, runtime.rank_size, seed=FLAGS.seed)
        with recorder.timed("train"):
            try:
                estimator.train(input_fn=synthetic_input.maybe_synthetic(train_input_fn, FLAGS),
                                max_steps=FLAGS.num_train_steps)
            except tf.errors.DataLossError as err:
                raise ValueError("--input_file=%s: corrupt TFRecord data (%s)"
                                 % (FLAGS.input_file, str(err).strip().splitlines()[0]))
        if FLAGS.export_dir:
            written = export_checkpoint.export(FLAGS.output_dir, FLAGS.export_dir,
                                               FLAGS.bert_config_file, FLAGS.vocab_file)
            print(export_checkpoint.exported_note(len(written), FLAGS.export_dir, FLAGS.output_dir),
                  flush=True)

    if FLAGS.do_eval:
        result = eval_phases.evaluate_pretraining(
            estimator, eval_files, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq,
            FLAGS.eval_batch_size, FLAGS.max_eval_steps, FLAGS.output_dir, recorder)
        recorder.set_metrics(result, precision=("MLM Accuracy", result["masked_lm_accuracy"]))

    recorder.write(FLAGS.results_json or os.path.join(FLAGS.output_dir, "results.json"))


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="input_file")
