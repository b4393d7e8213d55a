# coding=utf-8
"""ALBERT pretraining: masked LM + sentence-order prediction (google-research/albert
run_pretraining.py), in either layout (google / brightmart albert_zh, see Albert/modeling.py).

Reads the TFRecords of Albert/create_pretraining_data.py (or the originals': same features; the
SOP label is next_sentence_labels), trains with LAMB (or AdamWeightDecay) + linear warmup +
polynomial decay from common/, loss scaling and precision through common/, evaluates masked-LM
and sentence-order accuracy, and can export a clean checkpoint.

    python Albert/run_pretraining.py --input_file=data/*.tfrecord --output_dir=out \
        --albert_config_file=configs/albert_base.json --do_train --do_eval \
        --train_batch_size=32 --max_seq_length=512 --max_predictions_per_seq=76 \
        --num_train_steps=125000 --num_warmup_steps=3125 --learning_rate=0.00001375
"""

import os

import tensorflow.compat.v1 as tf
from absl import flags

if not __package__:  # run as `python Albert/run_pretraining.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from Albert import export_checkpoint, modeling
from common import (checkpoint_utils, cli, eval_phases, npu_runconfig, optimization,
                    pretraining_data)
from common import flags as common_flags
from common.demo_data.text import results_task_name
from common.npu_compat import NPUEstimatorSpec
from common.results import RunRecorder
from common import synthetic_input

common_flags.define_common_flags()

flags.DEFINE_string("albert_config_file", None, "albert_config.json of the model to train.")
flags.DEFINE_string("input_file", None, "Input TFRecord file(s): comma-separated globs.")
flags.DEFINE_string("eval_input_file", None, "TFRecords to evaluate on (default: --input_file).")
flags.DEFINE_string("output_dir", None, "Checkpoints and results go here.")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint (prefix or folder) to start from; its "
                    "layout (google / albert_zh) decides the variant.")
flags.DEFINE_integer("max_seq_length", 512, "Sequence length of the TFRecords.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per sequence in the TFRecords.")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate (masked LM / sentence order accuracy and loss).")
flags.DEFINE_integer("train_batch_size", 4096, "Training batch size.")
flags.DEFINE_integer("eval_batch_size", 64, "Eval batch size.")
flags.DEFINE_float("learning_rate", 0.00176, "Initial learning rate.")
flags.DEFINE_integer("num_train_steps", 125000, "Training steps.")
flags.DEFINE_integer("num_warmup_steps", 3125, "Linear warmup steps.")
flags.DEFINE_integer("max_eval_steps", 100, "At most this many eval batches (each example once).")
flags.DEFINE_enum("optimizer", "lamb", ["adamw", "lamb"], "LAMB (ALBERT) or AdamWeightDecay.")
flags.DEFINE_float("weight_decay_rate", 0.01, "Decoupled weight decay (LayerNorm/bias excluded).")
flags.DEFINE_bool("use_one_hot_embeddings", False, "One-hot matmul embedding lookup.")
flags.DEFINE_string("export_dir", None, "After training, write a clean checkpoint (model "
                    "variables + global_step) with albert_config.json (+ vocabulary) here.")
flags.DEFINE_string("vocab_file", None, "Optional: vocabulary copied into --export_dir.")
flags.DEFINE_string("spm_model_file", None, "Optional: sentencepiece model copied into --export_dir.")
FLAGS = flags.FLAGS

NETWORK = "Albert"


def model_fn_builder(config, init_checkpoint, learning_rate, num_train_steps, num_warmup_steps,
                     recorder, use_one_hot_embeddings=False):
    """The Estimator model_fn: ALBERT + MLM head (tied decoder) + SOP head."""

    def model_fn(features, labels, mode, params):
        del labels, params
        is_training = mode == tf.estimator.ModeKeys.TRAIN
        model = modeling.AlbertModel(
            config=config, is_training=is_training, input_ids=features["input_ids"],
            input_mask=features["input_mask"], token_type_ids=features["segment_ids"],
            use_one_hot_embeddings=use_one_hot_embeddings)
        masked_lm_loss, masked_lm_example_loss, masked_lm_log_probs = \
            modeling.get_masked_lm_output(config, model, features["masked_lm_positions"],
                                          features["masked_lm_ids"],
                                          features["masked_lm_weights"])
        sentence_order_loss, sentence_order_example_loss, sentence_order_log_probs = \
            modeling.get_sentence_order_output(config, model, features["next_sentence_labels"])
        total_loss = masked_lm_loss + sentence_order_loss

        if init_checkpoint:
            checkpoint_utils.init_from_checkpoint(init_checkpoint, tf.trainable_variables(),
                                                  log=is_training)

        if is_training:
            train_op, train_tensors = optimization.create_optimizer(
                total_loss, init_lr=learning_rate, num_train_steps=num_train_steps,
                num_warmup_steps=num_warmup_steps, optimizer=FLAGS.optimizer,
                weight_decay_rate=FLAGS.weight_decay_rate, loss_scale=FLAGS.loss_scale)
            train_tensors["mlm_loss"] = masked_lm_loss
            train_tensors["sop_loss"] = sentence_order_loss
            return NPUEstimatorSpec(mode=mode, loss=total_loss, train_op=train_op,
                                    training_hooks=[recorder.hook(total_loss, train_tensors)])
        if mode == tf.estimator.ModeKeys.EVAL:
            metrics = eval_phases.pretraining_metric_ops(
                features, masked_lm_log_probs, masked_lm_example_loss, sentence_order_log_probs,
                sentence_order_example_loss, "sentence_order")
            return NPUEstimatorSpec(mode=mode, loss=total_loss, eval_metric_ops=metrics)
        raise ValueError("only TRAIN and EVAL modes are supported, got %s" % mode)

    return model_fn


def check_flags():
    """Validates the flags; returns the config of the variant to run and the line saying which."""
    if not FLAGS.do_train and not FLAGS.do_eval:
        raise npu_runconfig.UsageError("at least one of --do_train or --do_eval must be True")
    for name in ("albert_config_file", "input_file", "output_dir"):
        if not getattr(FLAGS, name):
            raise npu_runconfig.UsageError("--%s is required" % name)
    config = modeling.AlbertConfig.from_json_file(FLAGS.albert_config_file)
    npu_runconfig.check_max_seq_length(FLAGS.max_seq_length, config, "albert_config_file",
                                       FLAGS.albert_config_file)
    if FLAGS.init_checkpoint:
        FLAGS.init_checkpoint = checkpoint_utils.resolve_checkpoint(FLAGS.init_checkpoint)
    for name in ("vocab_file", "spm_model_file"):
        path = getattr(FLAGS, name)
        if path and not os.path.isfile(path):
            raise FileNotFoundError("--%s=%s not found" % (name, path))
    if FLAGS.vocab_file:
        with open(FLAGS.vocab_file, encoding="utf-8") as reader:
            vocab_size = sum(1 for line in reader if line.strip())
        if vocab_size > config.vocab_size:
            raise npu_runconfig.UsageError(
                "--vocab_file=%s has %d tokens, more than vocab_size=%d of "
                "--albert_config_file=%s" % (FLAGS.vocab_file, vocab_size, config.vocab_size,
                                             FLAGS.albert_config_file))
    if FLAGS.num_warmup_steps > FLAGS.num_train_steps:
        raise npu_runconfig.UsageError("--num_warmup_steps=%d > --num_train_steps=%d"
                                       % (FLAGS.num_warmup_steps, FLAGS.num_train_steps))
    try:
        return modeling.resolve_variant(config, FLAGS.init_checkpoint)
    except ValueError as err:
        raise ValueError("--init_checkpoint: %s" % err)


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    config, variant_line = check_flags()
    print(variant_line, flush=True)
    input_files = pretraining_data.expand_input_patterns(FLAGS.input_file)
    pretraining_data.check_tfrecords(input_files, "input_file", FLAGS.max_seq_length,
                                     FLAGS.max_predictions_per_seq, config.vocab_size)
    eval_files = input_files
    if FLAGS.eval_input_file:
        eval_files = pretraining_data.expand_input_patterns(FLAGS.eval_input_file)
        pretraining_data.check_tfrecords(eval_files, "eval_input_file", FLAGS.max_seq_length,
                                         FLAGS.max_predictions_per_seq, config.vocab_size)
    tf.logging.info("*** Input files: %s", ", ".join(input_files))
    os.makedirs(FLAGS.output_dir, exist_ok=True)

    runtime = npu_runconfig.resolve(FLAGS)
    task = "pretraining"
    task = results_task_name(task, input_files[0])
    recorder = RunRecorder(network=NETWORK, task=task, batch_size=FLAGS.train_batch_size,
                           unit="sentences/sec", runtime=runtime,
                           skip_steps=FLAGS.timing_skip_steps)
    model_fn = model_fn_builder(config, FLAGS.init_checkpoint, FLAGS.learning_rate,
                                FLAGS.num_train_steps, FLAGS.num_warmup_steps, recorder,
                                FLAGS.use_one_hot_embeddings)
    estimator = npu_runconfig.build_estimator(model_fn, runtime.run_config(FLAGS.output_dir))

    if FLAGS.do_train:
        npu_runconfig.check_loop_alignment(FLAGS.num_train_steps, FLAGS.iterations_per_loop,
                                           "num_train_steps")
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
            written = export_checkpoint.export(FLAGS.output_dir, FLAGS.export_dir, config,
                                               FLAGS.vocab_file, FLAGS.spm_model_file)
            print("exported %d variables (%s layout) to %s"
                  % (len(written), config.variant, FLAGS.export_dir), flush=True)

    if FLAGS.do_eval:
        result = eval_phases.evaluate_pretraining(
            estimator, eval_files, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq,
            FLAGS.eval_batch_size, FLAGS.max_eval_steps, FLAGS.output_dir, recorder)
        recorder.set_metrics(result, precision=("MLM Accuracy", result["masked_lm_accuracy"]))

    recorder.write(FLAGS.results_json or os.path.join(FLAGS.output_dir, "results.json"))


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="input_file")
