# coding=utf-8
"""ALBERT fine-tuning for sentence (pair) classification (google-research/albert run_classifier.py,
brightmart/albert_zh's run_classifier.py for the albert_zh layout).

Tasks: MRPC, CoLA, SST-2, MNLI, XNLI, and Chinese TSV (chnsenticorp: label, text_a; lcqmc:
text_a, text_b, label); processors and features from common/classifier_data.py. The classifier
(dropout 0.1 on the pooled output, output_weights [num_labels, H], output_bias) is the originals'.
The variant (google / albert_zh) is read from --init_checkpoint; the log says which.

    python Albert/run_classifier.py --task_name=lcqmc --data_dir=lcqmc \
        --vocab_file=$ALBERT/vocab.txt --albert_config_file=$ALBERT/albert_config.json \
        --init_checkpoint=$ALBERT --do_train --do_eval --output_dir=out
"""

import os

import tensorflow.compat.v1 as tf
from absl import flags

if not __package__:  # run as `python Albert/run_classifier.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from Albert import export_checkpoint, modeling
from common import (checkpoint_utils, classifier_baseline, classifier_data, eval_phases,
                    npu_runconfig, optimization, transformer)
from common import cli
from common import flags as common_flags
from common import tokenization
from common.demo_data.text import results_task_name
from common.npu_compat import NPUEstimatorSpec
from common.results import RunRecorder

common_flags.define_common_flags()

common_flags.define_finetune_flags("albert_config_file")
common_flags.define_classifier_flags("albert_config.json")
flags.DEFINE_string("spm_model_file", None, "Sentencepiece model (English ALBERT); replaces "
                    "--vocab_file.")
flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"], "AdamWeightDecay (the originals' "
                  "fine-tuning default) or LAMB.")
flags.DEFINE_float("dropout_prob", 0.1, "Dropout on the pooled output before the classifier.")
FLAGS = flags.FLAGS

NETWORK = "Albert"


def create_model(config, is_training, input_ids, input_mask, segment_ids, labels, num_labels,
                 use_one_hot_embeddings):
    """ALBERT + classification head. Returns (loss, per_example_loss [B], logits, probabilities)."""
    model = modeling.AlbertModel(config=config, is_training=is_training, input_ids=input_ids,
                                 input_mask=input_mask, token_type_ids=segment_ids,
                                 use_one_hot_embeddings=use_one_hot_embeddings)
    return transformer.classification_output(
        model.get_pooled_output(), labels, num_labels, is_training,
        dropout_prob=FLAGS.dropout_prob, initializer_range=config.initializer_range)


def model_fn_builder(albert_config, num_labels, init_checkpoint, learning_rate, num_train_steps,
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
            albert_config, is_training, input_ids, input_mask, segment_ids, label_ids, num_labels,
            use_one_hot_embeddings)

        if init_checkpoint:
            checkpoint_utils.init_from_checkpoint(init_checkpoint, tf.trainable_variables(),
                                                  log=is_training)

        if is_training:
            train_op, train_tensors = optimization.create_optimizer(
                total_loss, init_lr=learning_rate, num_train_steps=num_train_steps,
                num_warmup_steps=num_warmup_steps, optimizer=FLAGS.optimizer,
                loss_scale=FLAGS.loss_scale)
            return NPUEstimatorSpec(mode=mode, loss=total_loss, train_op=train_op,
                                    training_hooks=[recorder.hook(total_loss, train_tensors)])
        if mode == tf.estimator.ModeKeys.EVAL:
            metrics = classifier_data.classification_metrics(
                task_name, per_example_loss, label_ids, logits, is_real_example)
            return NPUEstimatorSpec(mode=mode, loss=total_loss, eval_metric_ops=metrics)
        return NPUEstimatorSpec(mode=mode, predictions={"probabilities": probabilities})

    return model_fn


def check_flags():
    """Validates the flags; raises UsageError / FileNotFoundError with one clear line."""
    if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict):
        raise npu_runconfig.UsageError("at least one of --do_train, --do_eval or --do_predict "
                                       "must be True")
    for name in ("data_dir", "albert_config_file", "task_name", "output_dir"):
        if not getattr(FLAGS, name):
            raise npu_runconfig.UsageError("--%s is required" % name)
    if not FLAGS.vocab_file and not FLAGS.spm_model_file:
        raise npu_runconfig.UsageError("--vocab_file (or --spm_model_file) is required")
    if not os.path.isdir(FLAGS.data_dir):
        raise FileNotFoundError("--data_dir=%s is not a folder" % FLAGS.data_dir)
    for name in ("vocab_file", "spm_model_file"):
        path = getattr(FLAGS, name)
        if path and not os.path.isfile(path):
            raise FileNotFoundError("--%s=%s not found" % (name, path))
    if not os.path.isfile(FLAGS.albert_config_file):
        raise FileNotFoundError("--albert_config_file=%s not found" % FLAGS.albert_config_file)
    if FLAGS.init_checkpoint:
        FLAGS.init_checkpoint = checkpoint_utils.resolve_checkpoint(FLAGS.init_checkpoint)
    albert_config = modeling.AlbertConfig.from_json_file(FLAGS.albert_config_file)
    npu_runconfig.check_max_seq_length(FLAGS.max_seq_length, albert_config, "albert_config_file",
                                       FLAGS.albert_config_file)
    if FLAGS.max_seq_length < 3:
        raise npu_runconfig.UsageError("--max_seq_length must be at least 3")
    try:
        return modeling.resolve_variant(albert_config, FLAGS.init_checkpoint)
    except ValueError as err:
        raise ValueError("--init_checkpoint: %s" % err)


def build_tokenizer(vocab_size):
    """WordPiece (--vocab_file) or sentencepiece (--spm_model_file); checks it fits the config."""
    if FLAGS.spm_model_file:
        tokenizer = tokenization.SentencePieceTokenizer(FLAGS.spm_model_file, FLAGS.do_lower_case)
        source = "--spm_model_file=%s" % FLAGS.spm_model_file
    else:
        tokenizer = tokenization.FullTokenizer(vocab_file=FLAGS.vocab_file,
                                               do_lower_case=FLAGS.do_lower_case)
        source = "--vocab_file=%s" % FLAGS.vocab_file
    if len(tokenizer.vocab) > vocab_size:
        raise npu_runconfig.UsageError(
            "%s has %d tokens, more than vocab_size=%d of --albert_config_file=%s"
            % (source, len(tokenizer.vocab), vocab_size, FLAGS.albert_config_file))
    for token in ("[CLS]", "[SEP]"):
        if token not in tokenizer.vocab:
            raise ValueError("%s has no %s token" % (source, token))
    return tokenizer


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    albert_config, variant_line = check_flags()
    print(variant_line, flush=True)
    processor = classifier_data.get_processor(FLAGS.task_name, labels=FLAGS.label_list,
                                              xnli_language=FLAGS.xnli_language)
    label_list = processor.get_labels()
    tokenizer = build_tokenizer(albert_config.vocab_size)
    os.makedirs(FLAGS.output_dir, exist_ok=True)

    runtime = npu_runconfig.resolve(FLAGS)
    task = FLAGS.task_name
    task = results_task_name(task, FLAGS.data_dir)
    if not FLAGS.init_checkpoint and FLAGS.do_train:
        print("note: no --init_checkpoint: fine-tuning starts from randomly initialised weights",
              flush=True)
    recorder = RunRecorder(network=NETWORK, task=task,
                           batch_size=FLAGS.train_batch_size, unit="sentences/sec",
                           runtime=runtime, skip_steps=FLAGS.timing_skip_steps)

    train_examples, num_train_steps, num_warmup_steps = None, 0, 0
    if FLAGS.do_train:
        train_examples = processor.get_train_examples(FLAGS.data_dir)
        if not train_examples:
            raise ValueError("no training examples in %s" % FLAGS.data_dir)
        num_train_steps = FLAGS.num_train_steps or int(
            len(train_examples) / FLAGS.train_batch_size * FLAGS.num_train_epochs)
        num_train_steps = max(1, num_train_steps)
        num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
        npu_runconfig.check_loop_alignment(num_train_steps, FLAGS.iterations_per_loop,
                                           "num_train_steps")

    model_fn = model_fn_builder(albert_config, len(label_list), FLAGS.init_checkpoint,
                                FLAGS.learning_rate, num_train_steps, num_warmup_steps,
                                FLAGS.task_name, recorder, FLAGS.use_one_hot_embeddings)
    run_config = runtime.run_config(FLAGS.output_dir)
    estimator = npu_runconfig.build_estimator(model_fn, run_config)

    if FLAGS.do_train:
        train_file = os.path.join(FLAGS.output_dir, "train.tf_record")
        classifier_data.file_based_convert_examples_to_features(
            train_examples, label_list, FLAGS.max_seq_length, tokenizer, train_file)
        tf.logging.info("***** Running training: %d examples, batch size %d, %d steps *****",
                        len(train_examples), FLAGS.train_batch_size, num_train_steps)
        train_input_fn = classifier_data.file_based_input_fn_builder(
            train_file, FLAGS.max_seq_length, is_training=True, drop_remainder=True,
            batch_size=FLAGS.train_batch_size, seed=FLAGS.seed)
        with recorder.timed("train"):
            estimator.train(input_fn=train_input_fn, max_steps=num_train_steps)
        if FLAGS.export_dir:
            written = export_checkpoint.export(FLAGS.output_dir, FLAGS.export_dir, albert_config,
                                               FLAGS.vocab_file, FLAGS.spm_model_file)
            print("exported %d variables to %s" % (len(written), FLAGS.export_dir), flush=True)

    if FLAGS.do_eval:
        result = eval_phases.evaluate_classifier(
            estimator, processor.get_dev_examples(FLAGS.data_dir), label_list,
            FLAGS.max_seq_length, tokenizer, FLAGS.eval_batch_size, FLAGS.output_dir, recorder,
            FLAGS.data_dir)
        recorder.set_metrics(result, precision=("Accuracy", result["eval_accuracy"]))
        if FLAGS.baseline:
            classifier_baseline.record(recorder, FLAGS.data_dir, FLAGS.task_name)

    if FLAGS.do_predict:
        eval_phases.predict_classifier(
            estimator, processor.get_test_examples(FLAGS.data_dir), label_list,
            FLAGS.max_seq_length, tokenizer, FLAGS.predict_batch_size, FLAGS.output_dir, recorder)

    recorder.write(FLAGS.results_json or os.path.join(FLAGS.output_dir, "results.json"))


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="data_dir")
