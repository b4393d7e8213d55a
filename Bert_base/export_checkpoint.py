# coding=utf-8
"""Writes a clean BERT checkpoint from a training checkpoint: the model variables (bert/*, cls/*,
the classifier's output_weights/output_bias) and global_step only - no Adam slots (adam_m/adam_v),
no loss-scale state - which is what third-party converters expect. bert_config.json and vocab.txt
are copied beside it when given, so the folder serves as --model_path.

Load the export, not the raw training checkpoint, in other tools: Hugging Face's
load_tf_weights_in_bert skips Adam slots and global_step but not the loss_scale/* variables that
dynamic loss scaling (the default) saves, and fails on them.

    python Bert_base/export_checkpoint.py --checkpoint=out/ckpt --output_dir=out/export \
        --bert_config_file=configs/bert_tiny.json --vocab_file=vocab.txt
"""

import os

from absl import flags

if not __package__:  # run as `python Bert_base/export_checkpoint.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from Bert_base import modeling
from common import atomic_io, checkpoint_utils, cli

FLAGS = flags.FLAGS


def is_model_variable(name):
    """BERT model variables: bert/*, cls/*, output_weights, output_bias (no optimizer slots)."""
    if name.endswith("/adam_m") or name.endswith("/adam_v"):
        return False
    return (name.startswith("bert/") or name.startswith("cls/")
            or name in ("output_weights", "output_bias"))


def export(checkpoint, output_dir, bert_config_file=None, vocab_file=None):
    """Returns the list of (name, shape) written."""
    if bert_config_file:
        config = modeling.BertConfig.from_json_file(bert_config_file)
    if vocab_file and not os.path.isfile(vocab_file):
        raise FileNotFoundError("--vocab_file=%s not found" % vocab_file)
    os.makedirs(output_dir, exist_ok=True)
    written = checkpoint_utils.export_clean_checkpoint(
        checkpoint, os.path.join(output_dir, "bert_model.ckpt"), is_model_variable)
    if bert_config_file:
        atomic_io.write_text(os.path.join(output_dir, "bert_config.json"), config.to_json_string())
    if vocab_file:
        atomic_io.copy_file(vocab_file, os.path.join(output_dir, "vocab.txt"))
    return written


def exported_note(count, export_dir, training_dir):
    """The line a run prints after exporting: which folder other tools should load, and why."""
    return ("exported %d variables to %s: load this folder in other tools (e.g. Hugging Face's "
            "load_tf_weights_in_bert, which maps its bert/* and cls/* variables); the training checkpoint in %s also holds loss_scale/* and "
            "optimizer state, which such loaders reject" % (count, export_dir, training_dir))


def define_flags():
    """Command-line flags (defined only when run as a script, so tests can import this)."""
    flags.DEFINE_string("checkpoint", None, "Training checkpoint: prefix, or folder (latest).")
    flags.DEFINE_string("output_dir", None, "Folder of the clean bert_model.ckpt.")
    flags.DEFINE_string("bert_config_file", None, "Optional: copied in as bert_config.json.")
    flags.DEFINE_string("vocab_file", None, "Optional: copied in as vocab.txt.")


def run():
    if not FLAGS.checkpoint or not FLAGS.output_dir:
        raise ValueError("--checkpoint and --output_dir are required")
    written = export(FLAGS.checkpoint, FLAGS.output_dir, FLAGS.bert_config_file, FLAGS.vocab_file)
    for name, shape in written:
        print("  %s %s" % (name, shape))
    print(exported_note(len(written), FLAGS.output_dir, FLAGS.checkpoint))


if __name__ == "__main__":
    define_flags()
    cli.run_entry_point(run)
