# coding=utf-8
"""BERT fine-tuning for sentence (pair) classification (google-research/bert run_classifier.py).

Tasks: MRPC, CoLA, SST-2, MNLI, XNLI, and generic Chinese TSV (chnsenticorp: label, text_a;
lcqmc: text_a, text_b, label); see common/classifier_data.py. Runs on Ascend through npu_bridge
and elsewhere through the fallback of common/ (run config, precision, loss scale, AdamWeightDecay).

    python Bert_base/run_classifier.py --task_name=MRPC --data_dir=glue/MRPC \
        --vocab_file=$BERT/vocab.txt --bert_config_file=$BERT/bert_config.json \
        --init_checkpoint=$BERT/bert_model.ckpt --do_train --do_eval --output_dir=out
"""

import os

import tensorflow.compat.v1 as tf
from absl import flags

if not __package__:  # run as `python Bert_base/run_classifier.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from Bert_base import export_checkpoint, finetune_common, modeling
from common import (checkpoint_utils, classifier_baseline, classifier_data, eval_phases,
                    npu_runconfig, transformer)
from common import cli, multiworker
from common import flags as common_flags
from common import tokenization
from common.demo_data.text import results_task_name
from common.npu_compat import NPUEstimatorSpec
from common.results import RunRecorder

common_flags.define_common_flags()
# The delivery's name of the loss-scale flag (-1 off, 0 dynamic, >= 1 static).
flags.DEFINE_alias("npu_bert_loss_scale", "loss_scale")

finetune_common.define_flags()
common_flags.define_classifier_flags("bert_config.json")
FLAGS = flags.FLAGS

NETWORK = "Bert_base"


def create_model(bert_config, is_training, input_ids, input_mask, segment_ids, labels,
                 num_labels, use_one_hot_embeddings):
    """BERT + classification head. Returns (loss, per_example_loss [B], logits, probabilities)."""
    model = modeling.BertModel(config=bert_config, is_training=is_training, input_ids=input_ids,
                               input_mask=input_mask, token_type_ids=segment_ids,
                               use_one_hot_embeddings=use_one_hot_embeddings)
    return transformer.classification_output(
        model.get_pooled_output(), labels, num_labels, is_training,
        dropout_prob=0.1, initializer_range=bert_config.initializer_range)


def model_fn_builder(bert_config, num_labels, init_checkpoint, learning_rate, num_train_steps,
                     num_warmup_steps, task_name, recorder, use_one_hot_embeddings=False):
    """The Estimator model_fn."""

    def model_fn(features, labels, mode, params):
        del labels, params
        input_ids = features["input_ids"]
        input_mask = features["input_mask"]
        segment_ids = features["segment_ids"]
        label_ids = features["label_ids"]
        is_real_example = tf.cast(features["is_real_example"], tf.float32)
        is_training = mode == tf.estimator.ModeKeys.TRAIN

        total_loss, per_example_loss, logits, probabilities = create_model(
            bert_config, is_training, input_ids, input_mask, segment_ids, label_ids, num_labels,
            use_one_hot_embeddings)

        if mode == tf.estimator.ModeKeys.EVAL:
            if init_checkpoint:
                checkpoint_utils.init_from_checkpoint(init_checkpoint, tf.trainable_variables(),
                                                      log=False)
            metrics = classifier_data.classification_metrics(
                task_name, per_example_loss, label_ids, logits, is_real_example)
            return NPUEstimatorSpec(mode=mode, loss=total_loss, eval_metric_ops=metrics)
        return finetune_common.init_and_spec(
            FLAGS, mode, total_loss, {"probabilities": probabilities}, init_checkpoint,
            learning_rate, num_train_steps, num_warmup_steps, recorder)

    return model_fn


def check_flags():
    """Validates the flags (finetune_common.check_flags + --task_name); returns the BertConfig."""
    bert_config = finetune_common.check_flags(FLAGS)
    if not FLAGS.task_name:
        raise npu_runconfig.UsageError("--task_name is required")
    return bert_config


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    bert_config = check_flags()
    processor = classifier_data.get_processor(FLAGS.task_name, labels=FLAGS.label_list,
                                              xnli_language=FLAGS.xnli_language)
    label_list = processor.get_labels()
    tokenizer = tokenization.FullTokenizer(vocab_file=FLAGS.vocab_file,
                                           do_lower_case=FLAGS.do_lower_case)
    os.makedirs(FLAGS.output_dir, exist_ok=True)

    runtime = npu_runconfig.resolve(FLAGS)
    task = FLAGS.task_name
    task = results_task_name(task, FLAGS.data_dir)
    recorder = RunRecorder(network=NETWORK, task=task,
                           batch_size=FLAGS.train_batch_size, unit="sentences/sec",
                           runtime=runtime, skip_steps=FLAGS.timing_skip_steps)

    train_examples, num_train_steps, num_warmup_steps = None, 0, 0
    if FLAGS.do_train:
        train_examples = processor.get_train_examples(FLAGS.data_dir)
        if not train_examples:
            raise ValueError("no training examples in %s" % FLAGS.data_dir)
        # Epochs over the job's global batch (train_batch_size per rank x RANK_SIZE ranks).
        num_train_steps = FLAGS.num_train_steps or int(
            len(train_examples) / FLAGS.train_batch_size * FLAGS.num_train_epochs
            / runtime.rank_size)
        num_train_steps = max(1, num_train_steps)
        num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
        npu_runconfig.check_loop_alignment(num_train_steps, FLAGS.iterations_per_loop,
                                           "num_train_steps")
        print(checkpoint_utils.training_start_line(FLAGS.output_dir, num_train_steps,
                                                   FLAGS.init_checkpoint), flush=True)

    model_fn = model_fn_builder(bert_config, len(label_list), FLAGS.init_checkpoint,
                                FLAGS.learning_rate, num_train_steps, num_warmup_steps,
                                FLAGS.task_name, recorder, FLAGS.use_one_hot_embeddings)
    run_config = runtime.run_config(FLAGS.output_dir)
    estimator = npu_runconfig.build_estimator(model_fn, run_config)

    if FLAGS.do_train:
        train_file = multiworker.rank_file(FLAGS.output_dir, "train.tf_record")
        classifier_data.file_based_convert_examples_to_features(
            train_examples, label_list, FLAGS.max_seq_length, tokenizer, train_file)
        tf.logging.info("***** Running training: %d examples, batch size %d, %d steps *****",
                        len(train_examples), FLAGS.train_batch_size, num_train_steps)
        train_input_fn = classifier_data.file_based_input_fn_builder(
            train_file, FLAGS.max_seq_length, is_training=True, drop_remainder=True,
            batch_size=FLAGS.train_batch_size, seed=FLAGS.seed)
        with recorder.timed("train"):
            multiworker.train(estimator, train_input_fn, num_train_steps)
        if FLAGS.export_dir and runtime.rank_id == 0:
            written = export_checkpoint.export(FLAGS.output_dir, FLAGS.export_dir,
                                               FLAGS.bert_config_file, FLAGS.vocab_file)
            print(export_checkpoint.exported_note(len(written), FLAGS.export_dir, FLAGS.output_dir),
                  flush=True)

    # The job's evaluation and predictions: rank 0's, over the whole set.
    if FLAGS.do_eval and runtime.rank_id == 0:
        result = eval_phases.evaluate_classifier(
            estimator, processor.get_dev_examples(FLAGS.data_dir), label_list,
            FLAGS.max_seq_length, tokenizer, FLAGS.eval_batch_size, FLAGS.output_dir, recorder,
            FLAGS.data_dir)
        recorder.set_metrics(result, precision=("Accuracy", result["eval_accuracy"]))
        if FLAGS.baseline:
            classifier_baseline.record(recorder, FLAGS.data_dir, FLAGS.task_name)

    if FLAGS.do_predict and runtime.rank_id == 0:
        eval_phases.predict_classifier(
            estimator, processor.get_test_examples(FLAGS.data_dir), label_list,
            FLAGS.max_seq_length, tokenizer, FLAGS.predict_batch_size, FLAGS.output_dir, recorder)

    recorder.write(FLAGS.results_json or os.path.join(FLAGS.output_dir, "results.json"))


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="data_dir")
