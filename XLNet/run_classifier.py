# coding=utf-8
"""XLNet fine-tuning for sentence (pair) classification and regression (zihangdai/xlnet
run_classifier.py): MRPC, CoLA, SST-2, MNLI, STS-B (regression: Pearson / Spearman) and the
generic TSV tasks of common/classifier_data.py (chnsenticorp, lcqmc, tsv_single, tsv_pair).

    python XLNet/run_classifier.py --task_name=sts-b --data_dir=glue/STS-B \\
        --model_config_path=$XLNET/xlnet_config.json --spiece_model_file=$XLNET/spiece.model \\
        --init_checkpoint=$XLNET/xlnet_model.ckpt --do_train --do_eval --output_dir=out
"""

import os

import numpy as np
import tensorflow.compat.v1 as tf
from absl import flags

from XLNet import classifier_utils, model_utils, modeling
from common import checkpoint_utils, classifier_data, cli, npu_runconfig
from common import flags as common_flags
from common.atomic_io import write_text
from common.demo_data.text import results_task_name
from common.npu_compat import NPUEstimatorSpec
from common.results import RunRecorder
from common.tokenization.sentencepiece_utils import SentencePieceTokenizer

common_flags.define_common_flags()
flags.DEFINE_string("data_dir", None, "Folder with the task's .tsv files.")
flags.DEFINE_string("output_dir", None, "Checkpoints, features, results.")
flags.DEFINE_string("model_config_path", None, "xlnet_config.json.")
flags.DEFINE_string("spiece_model_file", None, "spiece.model of the checkpoint.")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint (prefix or folder) to start from.")
flags.DEFINE_string("task_name", None, "MRPC, CoLA, SST-2, MNLI, STS-B, chnsenticorp, lcqmc, "
                    "tsv_single, tsv_pair.")
flags.DEFINE_bool("uncased", False, "Lower-case the input (uncased models).")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate the dev set.")
flags.DEFINE_bool("do_predict", False, "Predict the test set into test_results.tsv.")
flags.DEFINE_integer("max_seq_length", 128, "Pieces per example incl. <sep>/<cls>.")
flags.DEFINE_integer("train_batch_size", 8, "Training batch size.")
flags.DEFINE_integer("eval_batch_size", 8, "Eval batch size.")
flags.DEFINE_integer("predict_batch_size", 8, "Predict batch size.")
model_utils.define_training_flags(train_steps=1000, learning_rate=1e-5, min_lr_ratio=0.0)
flags.DEFINE_float("lr_layer_decay_rate", 1.0, "Layer l of n learns at rate**(n-1-l) x lr.")
flags.DEFINE_enum("summary_type", "last", list(modeling.SUMMARY_TYPES), "Sequence summary.")
flags.DEFINE_bool("use_summ_proj", True, "tanh projection in the summary.")
flags.DEFINE_string("cls_scope", None, "Head scope suffix (default: the task name).")
flags.DEFINE_bool("is_regression", False, "Regression head (set for STS-B).")
flags.DEFINE_list("label_list", None, "Labels of the generic TSV tasks (default 0,1).")
flags.DEFINE_string("export_dir", None, "After training, write a clean checkpoint "
                    "(xlnet_model.ckpt, no optimizer slots) + xlnet_config.json + spiece.model.")
FLAGS = flags.FLAGS
NETWORK = "XLNet"


class StsbProcessor(classifier_data.DataProcessor):
    """STS-B (GLUE): header; sentence1 = col 7, sentence2 = col 8, score (0-5) last."""

    name = "sts-b"

    def get_labels(self):
        return None

    def _create_examples(self, lines, set_type, file_name):
        examples = []
        for i, line in enumerate(lines):
            if i == 0:
                continue
            src = "%s line %d" % (file_name, i + 1)
            a = self._field(line, 7, file_name, i + 1)
            b = self._field(line, 8, file_name, i + 1)
            label = "0.0" if set_type == "test" else self._field(line, len(line) - 1,
                                                                  file_name, i + 1)
            examples.append(classifier_data.InputExample("%s-%d" % (set_type, i), a, b, label,
                                                         src))
        return examples


def get_processor(task):
    if task.lower() in ("sts-b", "stsb"):
        return StsbProcessor()
    return classifier_data.get_processor(task, labels=FLAGS.label_list)


def head_scope(task, regression):
    name = FLAGS.cls_scope or task.lower()
    return ("regression_%s" if regression else "classification_%s") % name


def model_fn_builder(xlnet_config, n_class, regression, recorder, task):
    def model_fn(features, labels, mode, params):
        del labels, params
        is_training = mode == tf.estimator.ModeKeys.TRAIN
        run_config = modeling.create_run_config(
            is_training, True, dropout=FLAGS.dropout, dropatt=FLAGS.dropatt, init=FLAGS.init,
            init_range=FLAGS.init_range, init_std=FLAGS.init_std, clamp_len=FLAGS.clamp_len)
        inp = tf.transpose(features["input_ids"], [1, 0])
        seg = tf.transpose(features["segment_ids"], [1, 0])
        mask = tf.transpose(features["input_mask"], [1, 0])
        model = modeling.XLNetModel(xlnet_config, run_config, inp, seg, mask)
        summary = model.get_pooled_out(FLAGS.summary_type, FLAGS.use_summ_proj)
        label = features["label_ids"]
        with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
            if regression:
                per_example_loss, logits = modeling.regression_loss(
                    summary, label, model.initializer, head_scope(task, True))
            else:
                per_example_loss, logits = modeling.classification_loss(
                    summary, label, n_class, model.initializer, head_scope(task, False))
        loss = tf.reduce_mean(per_example_loss)
        if FLAGS.init_checkpoint:
            checkpoint_utils.init_from_checkpoint(FLAGS.init_checkpoint, tf.trainable_variables(),
                                                  log=is_training)
        if is_training:
            train_op, tensors = model_utils.get_train_op_from_flags(loss, FLAGS,
                                                                    FLAGS.lr_layer_decay_rate)
            return NPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op, training_hooks=[
                recorder.hook(loss, tensors, line_format=model_utils.step_line)])
        if mode == tf.estimator.ModeKeys.EVAL:
            metrics = classifier_data.classification_metrics(
                task, per_example_loss, label, logits, features["is_real_example"])
            return NPUEstimatorSpec(mode=mode, loss=loss, eval_metric_ops=metrics)
        predictions = {"logits": logits, "is_real_example": features["is_real_example"],
                       "label_ids": label}
        if not regression:
            predictions["probabilities"] = tf.nn.softmax(logits, -1)
        return NPUEstimatorSpec(mode=mode, predictions=predictions)
    return model_fn


def check_flags():
    if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict):
        raise npu_runconfig.UsageError("at least one of --do_train, --do_eval or --do_predict "
                                       "must be True")
    for name in ("data_dir", "model_config_path", "spiece_model_file", "task_name", "output_dir"):
        if not getattr(FLAGS, name):
            raise npu_runconfig.UsageError("--%s is required" % name)
    if not os.path.isdir(FLAGS.data_dir):
        raise FileNotFoundError("--data_dir=%s is not a folder" % FLAGS.data_dir)
    for name in ("model_config_path", "spiece_model_file"):
        if not os.path.isfile(getattr(FLAGS, name)):
            raise FileNotFoundError("--%s=%s not found" % (name, getattr(FLAGS, name)))
    if FLAGS.init_checkpoint:
        FLAGS.init_checkpoint = checkpoint_utils.resolve_checkpoint(FLAGS.init_checkpoint)
    if FLAGS.max_seq_length < 3:
        raise npu_runconfig.UsageError("--max_seq_length must be at least 3")
    if FLAGS.warmup_steps >= FLAGS.train_steps and FLAGS.do_train:
        raise npu_runconfig.UsageError("--warmup_steps must be below --train_steps")
    return modeling.XLNetConfig.from_json_file(FLAGS.model_config_path)


def regression_metrics(preds, labels):
    from scipy import stats
    return {"eval_pearson": float(np.corrcoef(preds, labels)[0, 1]),
            "eval_spearman": float(stats.spearmanr(preds, labels)[0]),
            "eval_loss": float(np.mean((preds - labels) ** 2))}


def _features(examples, label_list, tokenizer, path, batch_size):
    examples = classifier_data.pad_examples(examples, batch_size)
    classifier_utils.file_based_convert_examples_to_features(
        examples, label_list, FLAGS.max_seq_length, tokenizer.tokenize, path)
    return len(examples)


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    xlnet_config = check_flags()
    processor = get_processor(FLAGS.task_name)
    label_list = processor.get_labels()
    regression = FLAGS.is_regression or label_list is None
    tokenizer = SentencePieceTokenizer(FLAGS.spiece_model_file, do_lower_case=FLAGS.uncased)
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    runtime = npu_runconfig.resolve(FLAGS)
    task = FLAGS.task_name
    task = results_task_name(task, FLAGS.data_dir)
    if FLAGS.do_train and not FLAGS.init_checkpoint:
        print("note: no --init_checkpoint: fine-tuning starts from randomly initialised weights",
              flush=True)
    recorder = RunRecorder(network=NETWORK, task=task, batch_size=FLAGS.train_batch_size,
                           unit="sentences/sec", runtime=runtime,
                           skip_steps=FLAGS.timing_skip_steps)
    if FLAGS.do_train:
        npu_runconfig.check_loop_alignment(FLAGS.train_steps, FLAGS.iterations_per_loop,
                                           "train_steps")
    estimator = npu_runconfig.build_estimator(
        model_fn_builder(xlnet_config, len(label_list or [None]), regression, recorder,
                         FLAGS.task_name), runtime.run_config(FLAGS.output_dir))
    input_fn = classifier_utils.file_based_input_fn_builder

    if FLAGS.do_train:
        examples = processor.get_train_examples(FLAGS.data_dir)
        if not examples:
            raise ValueError("no training examples in %s" % FLAGS.data_dir)
        train_file = os.path.join(FLAGS.output_dir, "train.tf_record")
        classifier_utils.file_based_convert_examples_to_features(
            examples, label_list, FLAGS.max_seq_length, tokenizer.tokenize, train_file)
        with recorder.timed("train"):
            estimator.train(input_fn(train_file, FLAGS.max_seq_length, True,
                                     FLAGS.train_batch_size, regression, FLAGS.seed),
                            max_steps=FLAGS.train_steps)
        if FLAGS.export_dir:
            from XLNet import export_checkpoint
            written = export_checkpoint.export(FLAGS.output_dir, FLAGS.export_dir,
                                               FLAGS.model_config_path, FLAGS.spiece_model_file)
            print("exported %d variables to %s" % (len(written), FLAGS.export_dir), flush=True)

    if FLAGS.do_eval:
        examples = processor.get_dev_examples(FLAGS.data_dir)
        if not examples:
            raise ValueError("no dev examples in %s" % FLAGS.data_dir)
        eval_file = os.path.join(FLAGS.output_dir, "eval.tf_record")
        total = _features(examples, label_list, tokenizer, eval_file, FLAGS.eval_batch_size)
        eval_fn = input_fn(eval_file, FLAGS.max_seq_length, False, FLAGS.eval_batch_size,
                           regression)
        with recorder.timed("eval"):
            if regression:
                rows = [p for p in estimator.predict(eval_fn) if p["is_real_example"]]
                result = regression_metrics(np.array([r["logits"] for r in rows]),
                                            np.array([r["label_ids"] for r in rows]))
            else:
                result = estimator.evaluate(eval_fn, steps=total // FLAGS.eval_batch_size)
        lines = ["%s = %s" % (k, result[k]) for k in sorted(result)]
        write_text(os.path.join(FLAGS.output_dir, "eval_results.txt"), "\n".join(lines) + "\n")
        print("***** Eval results *****\n  " + "\n  ".join(lines), flush=True)
        recorder.set_metrics(result, precision=("Pearson", result["eval_pearson"]) if regression
                             else ("Accuracy", result["eval_accuracy"]))

    if FLAGS.do_predict:
        examples = processor.get_test_examples(FLAGS.data_dir)
        predict_file = os.path.join(FLAGS.output_dir, "predict.tf_record")
        _features(examples, label_list, tokenizer, predict_file, FLAGS.predict_batch_size)
        rows = []
        for p in estimator.predict(input_fn(predict_file, FLAGS.max_seq_length, False,
                                            FLAGS.predict_batch_size, regression)):
            if p["is_real_example"]:
                rows.append("%.6f" % p["logits"] if regression
                            else "\t".join("%.8f" % x for x in p["probabilities"]))
        out = os.path.join(FLAGS.output_dir, "test_results.tsv")
        write_text(out, "".join(r + "\n" for r in rows))
        print("predictions: %s (%d rows)" % (out, len(rows)), flush=True)

    recorder.write(FLAGS.results_json or os.path.join(FLAGS.output_dir, "results.json"))


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="data_dir", user_errors=(modeling.ConfigError,))
