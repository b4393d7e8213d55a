"""What Bert_base's fine-tuning entry points (run_classifier.py, run_ner.py, run_reading.py)
share: their common flags and flag checks; for the token-level two also the step count, run
recorder and the optimizer / estimator / feature-file wiring."""
import os

import tensorflow.compat.v1 as tf
from absl import flags

from Bert_base import modeling
from common import checkpoint_utils, feature_records, npu_runconfig, optimization, tokenization
from common import flags as common_flags
from common.demo_data.text import results_task_name
from common.npu_compat import NPUEstimatorSpec
from common.results import RunRecorder


def define_flags(default_seq_length=128):
    """The flags every fine-tuning entry point takes (common/flags.py), under google-research/bert's
    names."""
    common_flags.define_finetune_flags("bert_config_file", default_seq_length)


def check_flags(FLAGS):
    """Validates the shared flags; returns the BertConfig (UsageError / FileNotFoundError)."""
    if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict):
        raise npu_runconfig.UsageError("at least one of --do_train, --do_eval or --do_predict "
                                       "must be True")
    for name in ("data_dir", "bert_config_file", "vocab_file", "output_dir"):
        if not getattr(FLAGS, name):
            raise npu_runconfig.UsageError("--%s is required" % name)
    if not os.path.isdir(FLAGS.data_dir):
        raise FileNotFoundError("--data_dir=%s is not a folder" % FLAGS.data_dir)
    for name in ("vocab_file", "bert_config_file"):
        if not os.path.isfile(getattr(FLAGS, name)):
            raise FileNotFoundError("--%s=%s not found" % (name, getattr(FLAGS, name)))
    if FLAGS.init_checkpoint:
        FLAGS.init_checkpoint = checkpoint_utils.resolve_checkpoint(FLAGS.init_checkpoint)
    bert_config = modeling.BertConfig.from_json_file(FLAGS.bert_config_file)
    npu_runconfig.check_max_seq_length(FLAGS.max_seq_length, bert_config, "bert_config_file",
                                       FLAGS.bert_config_file)
    if FLAGS.max_seq_length < 3:
        raise npu_runconfig.UsageError("--max_seq_length must be at least 3")
    tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, FLAGS.init_checkpoint)
    return bert_config


def runtime_and_recorder(FLAGS, network, task):
    """The resolved runtime (printed) and the RunRecorder of a run on --data_dir."""
    runtime = npu_runconfig.resolve(FLAGS)
    recorder = RunRecorder(network=network, task=results_task_name(task, FLAGS.data_dir),
                           batch_size=FLAGS.train_batch_size, unit="sentences/sec",
                           runtime=runtime, skip_steps=FLAGS.timing_skip_steps)
    return runtime, recorder


def train_steps(FLAGS, num_features):
    """(num_train_steps, num_warmup_steps) and the start line printed."""
    steps = max(1, FLAGS.num_train_steps or int(
        num_features / FLAGS.train_batch_size * FLAGS.num_train_epochs))
    npu_runconfig.check_loop_alignment(steps, FLAGS.iterations_per_loop, "num_train_steps")
    print(checkpoint_utils.training_start_line(FLAGS.output_dir, steps, FLAGS.init_checkpoint),
          flush=True)
    return steps, int(steps * FLAGS.warmup_proportion)


def bert_encoder(bert_config, is_training, features, use_one_hot_embeddings):
    """BertModel over the features' input_ids / input_mask / segment_ids (variables bert/*, as
    a Google BERT checkpoint names them)."""
    return modeling.BertModel(config=bert_config, is_training=is_training,
                               input_ids=features["input_ids"],
                               input_mask=features["input_mask"],
                               token_type_ids=features["segment_ids"],
                               use_one_hot_embeddings=use_one_hot_embeddings)


def init_and_spec(FLAGS, mode, total_loss, predictions, init_checkpoint, learning_rate,
                  num_train_steps, num_warmup_steps, recorder):
    """Initialise from the checkpoint, then the train or predict EstimatorSpec."""
    is_training = mode == tf.estimator.ModeKeys.TRAIN
    if init_checkpoint:
        checkpoint_utils.init_from_checkpoint(init_checkpoint, tf.trainable_variables(),
                                              log=is_training)
    if is_training:
        train_op, train_tensors = optimization.create_optimizer(
            total_loss, init_lr=learning_rate, num_train_steps=num_train_steps,
            num_warmup_steps=num_warmup_steps, optimizer="adamw", loss_scale=FLAGS.loss_scale)
        return NPUEstimatorSpec(mode=mode, loss=total_loss, train_op=train_op,
                                training_hooks=[recorder.hook(total_loss, train_tensors)])
    return NPUEstimatorSpec(mode=mode, predictions=predictions)


def pad_to_batches(items, batch_size, padding):
    """items + copies of `padding` up to a whole number of batches (static shapes on Ascend)."""
    items = list(items)
    while len(items) % batch_size:
        items.append(padding)
    return items


def predict_records(estimator, path, feature_dicts, lengths, batch_size, count):
    """Writes the feature dicts to `path` and returns the first `count` predictions."""
    feature_records.write_int_features(path, feature_dicts)
    input_fn = feature_records.int_features_input_fn(path, lengths, is_training=False,
                                                     batch_size=batch_size)
    outputs = []
    for prediction in estimator.predict(input_fn=input_fn):
        if len(outputs) >= count:
            break
        outputs.append(prediction)
    if len(outputs) != count:
        raise RuntimeError("predicted %d of %d features" % (len(outputs), count))
    return outputs
