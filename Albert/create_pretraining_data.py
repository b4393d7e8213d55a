# coding=utf-8
"""Creates ALBERT pretraining TFRecords (masked LM + sentence order) from raw text.

Input: text files, one sentence per line, a blank line between documents. Output: TFRecords with
BERT's features (input_ids, input_mask, segment_ids, masked_lm_positions, masked_lm_ids,
masked_lm_weights, next_sentence_labels; the SOP label keeps the name next_sentence_labels,
1 = the two segments are swapped), readable by Albert/run_pretraining.py and the originals.

What ALBERT changes over BERT's data (common/pretraining_data.py):
  * sentence-order pairs (--random_next_sentence=False, the default) instead of random next;
  * n-gram masking of up to --ngram whole words (1/n weighting, --favor_shorter_ngram);
  * whole-word masking (--do_whole_word_mask): a WordPiece word with its ## pieces, and for
    Chinese the characters of a jieba word (--chinese_word_segmentation=jieba, as
    brightmart/albert_zh); with --spm_model_file a sentencepiece word (pieces after "▁").

    python Albert/create_pretraining_data.py --input_file=news_zh_1.txt \
        --output_file=data/tf_news.tfrecord --vocab_file=vocab.txt --do_lower_case=True \
        --do_whole_word_mask=True --max_seq_length=512 --max_predictions_per_seq=76 \
        --masked_lm_prob=0.15
"""

import os
import random

import tensorflow.compat.v1 as tf
from absl import flags

if not __package__:  # run as `python Albert/create_pretraining_data.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from common import cli, pretraining_data, tokenization

flags.DEFINE_string("input_file", None, "Input raw text file(s): comma-separated globs.")
flags.DEFINE_string("output_file", None, "Output TFRecord file(s), comma-separated (round-robin).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary (or the sentencepiece .vocab "
                    "file beside --spm_model_file).")
flags.DEFINE_string("spm_model_file", None, "Sentencepiece model (English ALBERT vocabularies); "
                    "when given, text is tokenized by it instead of WordPiece.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (uncased / Chinese models).")
flags.DEFINE_bool("do_whole_word_mask", True, "Mask whole words (see the module docstring).")
flags.DEFINE_enum("chinese_word_segmentation", "jieba", ["jieba", "none"],
                  "How Chinese words are found for whole-word masking (none: per character).")
flags.DEFINE_bool("random_next_sentence", False, "BERT's random next sentence instead of "
                  "ALBERT's sentence-order pairs.")
flags.DEFINE_integer("ngram", 3, "Longest n-gram (in whole words) masked as one span.")
flags.DEFINE_bool("favor_shorter_ngram", True, "Probability of an n-gram proportional to 1/n "
                  "(else to 1/(ngram+1-n)).")
flags.DEFINE_integer("max_seq_length", 512, "Maximum sequence length.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum masked LM predictions per sequence.")
flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.")
flags.DEFINE_integer("dupe_factor", 40, "Times each document is used, with different masks.")
flags.DEFINE_float("masked_lm_prob", 0.15, "Fraction of tokens to predict.")
flags.DEFINE_float("short_seq_prob", 0.1, "Probability of a shorter than maximum sequence.")
FLAGS = flags.FLAGS


def check_flags():
    for name in ("input_file", "output_file"):
        if not getattr(FLAGS, name):
            raise ValueError("--%s is required" % name)
    if not FLAGS.vocab_file and not FLAGS.spm_model_file:
        raise ValueError("--vocab_file (or --spm_model_file) is required")
    for name in ("vocab_file", "spm_model_file"):
        path = getattr(FLAGS, name)
        if path and not os.path.isfile(path):
            raise FileNotFoundError("--%s=%s not found" % (name, path))
    if FLAGS.max_seq_length < 5:
        raise ValueError("--max_seq_length must be at least 5, got %d" % FLAGS.max_seq_length)
    if FLAGS.max_predictions_per_seq < 1:
        raise ValueError("--max_predictions_per_seq must be at least 1")
    if FLAGS.dupe_factor < 1:
        raise ValueError("--dupe_factor must be at least 1")
    if FLAGS.ngram < 1:
        raise ValueError("--ngram must be at least 1, got %d" % FLAGS.ngram)
    if not 0.0 < FLAGS.masked_lm_prob < 1.0:
        raise ValueError("--masked_lm_prob must be in (0, 1), got %g" % FLAGS.masked_lm_prob)
    if not 0.0 <= FLAGS.short_seq_prob <= 1.0:
        raise ValueError("--short_seq_prob must be in [0, 1], got %g" % FLAGS.short_seq_prob)


def build_tokenizer(vocab_file, spm_model_file, do_lower_case, whole_word, segmentation):
    """The tokenizer the instances are made with (whole-word marks included)."""
    if spm_model_file:
        tokenizer = tokenization.SentencePieceTokenizer(spm_model_file, do_lower_case=do_lower_case)
        source = "--spm_model_file=%s" % spm_model_file
    else:
        tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)
        source = "--vocab_file=%s" % vocab_file
    for token in ("[CLS]", "[SEP]", "[MASK]"):
        if token not in tokenizer.vocab:
            raise ValueError("%s has no %s token" % (source, token))
    if whole_word and segmentation == "jieba":
        tokenizer = pretraining_data.JiebaWholeWordTokenizer(tokenizer)
    return tokenizer


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    check_flags()
    tokenizer = build_tokenizer(FLAGS.vocab_file, FLAGS.spm_model_file, FLAGS.do_lower_case,
                                FLAGS.do_whole_word_mask, FLAGS.chinese_word_segmentation)
    input_files = pretraining_data.expand_input_patterns(FLAGS.input_file)
    tf.logging.info("*** Reading from input files ***\n  %s", "\n  ".join(input_files))

    rng = random.Random(FLAGS.random_seed)
    instances = pretraining_data.create_training_instances(
        input_files, tokenizer, FLAGS.max_seq_length, FLAGS.dupe_factor, FLAGS.short_seq_prob,
        FLAGS.masked_lm_prob, FLAGS.max_predictions_per_seq, rng,
        do_whole_word_mask=FLAGS.do_whole_word_mask,
        sentence_order=not FLAGS.random_next_sentence, ngram=FLAGS.ngram,
        favor_shorter_ngram=FLAGS.favor_shorter_ngram)

    output_files = [f.strip() for f in FLAGS.output_file.split(",") if f.strip()]
    tf.logging.info("*** Writing to output files ***\n  %s", "\n  ".join(output_files))
    count = pretraining_data.write_instance_to_example_files(
        instances, tokenizer, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq, output_files)
    print("wrote %d instances to %s" % (count, ", ".join(output_files)), flush=True)


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="input_file")
