"""The evaluation and prediction phases the NLP entry points share (run_classifier.py,
run_pretraining.py of Bert_base and Albert).

Classifier phases pad the examples to whole batches (static shapes on Ascend; the padding carries
is_real_example = 0 and counts in no metric or output row). Files are written atomically:
<output_dir>/eval_results.txt (`key = value` lines, as google-research/bert) and
<output_dir>/test_results.tsv (one row of class probabilities per real test example).
"""
import os

import tensorflow.compat.v1 as tf

from common import classifier_data, pretraining_data
from common.atomic_io import write_text


def _input_fn(examples, label_list, max_seq_length, tokenizer, batch_size, record_path):
    classifier_data.file_based_convert_examples_to_features(
        examples, label_list, max_seq_length, tokenizer, record_path)
    return classifier_data.file_based_input_fn_builder(
        record_path, max_seq_length, is_training=False, drop_remainder=True, batch_size=batch_size)


def evaluate_classifier(estimator, examples, label_list, max_seq_length, tokenizer, batch_size, output_dir,
             recorder, data_dir):
    """Evaluates the dev examples; returns the metrics dict (eval_accuracy, ...)."""
    num_actual = len(examples)
    if not num_actual:
        raise ValueError("no dev examples in %s" % data_dir)
    examples = classifier_data.pad_examples(examples, batch_size)
    input_fn = _input_fn(examples, label_list, max_seq_length, tokenizer, batch_size,
                         os.path.join(output_dir, "eval.tf_record"))
    tf.logging.info("***** Running evaluation: %d examples (+%d padding), batch size %d *****",
                    num_actual, len(examples) - num_actual, batch_size)
    with recorder.timed("eval"):
        result = estimator.evaluate(input_fn=input_fn, steps=len(examples) // batch_size)
    write_eval_results(result, output_dir)
    return result


def write_eval_results(result, output_dir):
    """eval_results.txt and the printed `***** Eval results *****` block."""
    lines = ["%s = %s" % (key, result[key]) for key in sorted(result)]
    write_text(os.path.join(output_dir, "eval_results.txt"), "\n".join(lines) + "\n")
    print("***** Eval results *****\n  " + "\n  ".join(lines), flush=True)


def evaluate_pretraining(estimator, eval_files, max_seq_length, max_predictions_per_seq,
                         batch_size, max_steps, output_dir, recorder):
    """MLM + NSP/SOP evaluation over pretraining TFRecords, at most max_steps batches."""
    tf.logging.info("***** Running evaluation: batch size %d, at most %d steps *****",
                    batch_size, max_steps)
    input_fn = pretraining_data.input_fn_builder(eval_files, max_seq_length,
                                                 max_predictions_per_seq, False, batch_size)
    with recorder.timed("eval"):
        try:
            result = estimator.evaluate(input_fn=input_fn, steps=max_steps)
        except tf.errors.DataLossError as err:
            raise ValueError("eval TFRecords: corrupt data (%s)" % str(err).strip().splitlines()[0])
    write_eval_results(result, output_dir)
    return result


def predict_classifier(estimator, examples, label_list, max_seq_length, tokenizer, batch_size, output_dir,
            recorder):
    """Writes test_results.tsv: the class probabilities of every real test example."""
    num_actual = len(examples)
    examples = classifier_data.pad_examples(examples, batch_size)
    input_fn = _input_fn(examples, label_list, max_seq_length, tokenizer, batch_size,
                         os.path.join(output_dir, "predict.tf_record"))
    rows = []
    with recorder.timed("predict"):
        for i, prediction in enumerate(estimator.predict(input_fn=input_fn)):
            if i >= num_actual:
                break
            rows.append("\t".join("%.8f" % p for p in prediction["probabilities"]))
    if len(rows) != num_actual:
        raise RuntimeError("predicted %d of %d test examples" % (len(rows), num_actual))
    path = os.path.join(output_dir, "test_results.tsv")
    write_text(path, "".join(row + "\n" for row in rows))
    print("predictions: %s (%d rows, columns = labels %s)"
          % (path, len(rows), ",".join(label_list)), flush=True)
    return path


def pretraining_metric_ops(features, masked_lm_log_probs, masked_lm_example_loss,
                           sentence_log_probs, sentence_example_loss, sentence_task):
    """The EVAL metrics of MLM + a sentence task, as run_pretraining.py of google-research/bert
    (sentence_task "next_sentence") and albert ("sentence_order"):
    masked_lm_accuracy / _loss (weighted by masked_lm_weights) and <sentence_task>_accuracy / _loss.

    masked_lm_log_probs: [batch * max_predictions, vocab]; masked_lm_example_loss: [batch * max_predictions];
    sentence_log_probs: [batch, 2]; sentence_example_loss: [batch].
    """
    masked_lm_ids = tf.reshape(features["masked_lm_ids"], [-1])
    masked_lm_weights = tf.reshape(features["masked_lm_weights"], [-1])
    masked_lm_predictions = tf.argmax(masked_lm_log_probs, axis=-1, output_type=tf.int32)
    sentence_labels = tf.reshape(features["next_sentence_labels"], [-1])
    sentence_predictions = tf.argmax(sentence_log_probs, axis=-1, output_type=tf.int32)
    return {
        "masked_lm_accuracy": tf.metrics.accuracy(labels=masked_lm_ids,
                                                  predictions=masked_lm_predictions,
                                                  weights=masked_lm_weights),
        "masked_lm_loss": tf.metrics.mean(values=masked_lm_example_loss, weights=masked_lm_weights),
        sentence_task + "_accuracy": tf.metrics.accuracy(labels=sentence_labels,
                                                         predictions=sentence_predictions),
        sentence_task + "_loss": tf.metrics.mean(values=sentence_example_loss),
    }
