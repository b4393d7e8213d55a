# coding=utf-8
"""Creates BERT pretraining TFRecords (masked LM + next sentence) from raw text.

Input: text files, one sentence per line, a blank line between documents. Output: TFRecords
with the original features (see common/pretraining_data.py), readable by run_pretraining.py and
by google-research/bert's run_pretraining.py.

    python Bert_base/create_pretraining_data.py --input_file=corpus/*.txt \
        --output_file=data/train.tfrecord --vocab_file=vocab.txt --do_lower_case=True \
        --max_seq_length=128 --max_predictions_per_seq=20 --masked_lm_prob=0.15 \
        --random_seed=12345 --dupe_factor=5
"""

import random
import tensorflow.compat.v1 as tf
from absl import flags

if not __package__:  # run as `python Bert_base/create_pretraining_data.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from common import cli, pretraining_data, tokenization

flags.DEFINE_string("input_file", None, "Input raw text file(s): comma-separated globs.")
flags.DEFINE_string("output_file", None, "Output TFRecord file(s), comma-separated (round-robin).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary of the model.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (uncased / Chinese models).")
flags.DEFINE_bool("do_whole_word_mask", False, "Mask whole words (a word and its ## pieces).")
flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum masked LM predictions per sequence.")
flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.")
flags.DEFINE_integer("dupe_factor", 10, "Times each document is used, with different masks.")
flags.DEFINE_float("masked_lm_prob", 0.15, "Fraction of tokens to predict.")
flags.DEFINE_float("short_seq_prob", 0.1, "Probability of a shorter than maximum sequence.")
FLAGS = flags.FLAGS


def check_flags():
    for name in ("input_file", "output_file", "vocab_file"):
        if not getattr(FLAGS, name):
            raise ValueError("--%s is required" % name)
    if FLAGS.max_seq_length < 5:
        raise ValueError("--max_seq_length must be at least 5, got %d" % FLAGS.max_seq_length)
    if FLAGS.max_predictions_per_seq < 1:
        raise ValueError("--max_predictions_per_seq must be at least 1")
    if FLAGS.dupe_factor < 1:
        raise ValueError("--dupe_factor must be at least 1")
    if not 0.0 < FLAGS.masked_lm_prob < 1.0:
        raise ValueError("--masked_lm_prob must be in (0, 1), got %g" % FLAGS.masked_lm_prob)
    if not 0.0 <= FLAGS.short_seq_prob <= 1.0:
        raise ValueError("--short_seq_prob must be in [0, 1], got %g" % FLAGS.short_seq_prob)


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    check_flags()
    tokenizer = tokenization.FullTokenizer(vocab_file=FLAGS.vocab_file,
                                           do_lower_case=FLAGS.do_lower_case)
    for token in ("[CLS]", "[SEP]", "[MASK]"):
        if token not in tokenizer.vocab:
            raise ValueError("--vocab_file=%s has no %s token" % (FLAGS.vocab_file, token))
    input_files = pretraining_data.expand_input_patterns(FLAGS.input_file)
    tf.logging.info("*** Reading from input files ***\n  %s", "\n  ".join(input_files))

    rng = random.Random(FLAGS.random_seed)
    instances = pretraining_data.create_training_instances(
        input_files, tokenizer, FLAGS.max_seq_length, FLAGS.dupe_factor, FLAGS.short_seq_prob,
        FLAGS.masked_lm_prob, FLAGS.max_predictions_per_seq, rng,
        do_whole_word_mask=FLAGS.do_whole_word_mask)

    output_files = [f.strip() for f in FLAGS.output_file.split(",") if f.strip()]
    tf.logging.info("*** Writing to output files ***\n  %s", "\n  ".join(output_files))
    count = pretraining_data.write_instance_to_example_files(
        instances, tokenizer, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq, output_files)
    print("wrote %d instances to %s" % (count, ", ".join(output_files)), flush=True)


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="input_file")
