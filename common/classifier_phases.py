"""The evaluation and prediction phases of a sentence(-pair) classifier's run_classifier.py.

Both pad the examples to whole batches (static shapes on Ascend; the padding carries
is_real_example = 0 and counts in no metric or output row) and write their files atomically:
<output_dir>/eval_results.txt and <output_dir>/test_results.tsv (one row of class probabilities
per real test example, as google-research/bert).
"""
import os

import tensorflow.compat.v1 as tf

from common import classifier_data
from common.atomic_io import write_text


def _input_fn(examples, label_list, max_seq_length, tokenizer, batch_size, record_path):
    classifier_data.file_based_convert_examples_to_features(
        examples, label_list, max_seq_length, tokenizer, record_path)
    return classifier_data.file_based_input_fn_builder(
        record_path, max_seq_length, is_training=False, drop_remainder=True, batch_size=batch_size)


def evaluate(estimator, examples, label_list, max_seq_length, tokenizer, batch_size, output_dir,
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
    lines = ["%s = %s" % (key, result[key]) for key in sorted(result)]
    write_text(os.path.join(output_dir, "eval_results.txt"), "\n".join(lines) + "\n")
    print("***** Eval results *****\n  " + "\n  ".join(lines), flush=True)
    return result


def predict(estimator, examples, label_list, max_seq_length, tokenizer, batch_size, output_dir,
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
