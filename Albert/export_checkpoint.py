# coding=utf-8
"""Writes a clean ALBERT checkpoint from a training checkpoint: the model variables in the
layout's own names (bert/*, cls/*, the classifier's output_weights/output_bias) and global_step
only - no LAMB/Adam slots (adam_m/adam_v), no loss-scale state - with albert_config.json and the
vocabulary (vocab.txt and/or the sentencepiece model) beside it, so the folder serves as
--model_path and as input to third-party converters (Hugging Face's load_tf_weights_in_albert
reads the google layout).

    python Albert/export_checkpoint.py --checkpoint=out/ckpt --output_dir=out/export \
        --albert_config_file=configs/albert_tiny.json --vocab_file=vocab.txt
"""

import os

from absl import flags

if not __package__:  # run as `python Albert/export_checkpoint.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from Albert import modeling
from common import atomic_io, checkpoint_utils, cli

FLAGS = flags.FLAGS

CHECKPOINT_NAME = "albert_model.ckpt"


def is_model_variable(name):
    """Model variables: bert/*, cls/*, output_weights, output_bias (no optimizer slots)."""
    if name.endswith("/adam_m") or name.endswith("/adam_v"):
        return False
    return (name.startswith("bert/") or name.startswith("cls/")
            or name in ("output_weights", "output_bias"))


def export(checkpoint, output_dir, config=None, vocab_file=None, spm_model_file=None):
    """Returns the list of (name, shape) written. `config`: an AlbertConfig (written as
    albert_config.json, variant included) or a path to one."""
    if isinstance(config, str):
        config = modeling.AlbertConfig.from_json_file(config)
    for flag, path in (("vocab_file", vocab_file), ("spm_model_file", spm_model_file)):
        if path and not os.path.isfile(path):
            raise FileNotFoundError("--%s=%s not found" % (flag, path))
    os.makedirs(output_dir, exist_ok=True)
    written = checkpoint_utils.export_clean_checkpoint(
        checkpoint, os.path.join(output_dir, CHECKPOINT_NAME), is_model_variable)
    if config is not None:
        atomic_io.write_text(os.path.join(output_dir, "albert_config.json"),
                             config.to_json_string())
    if vocab_file:
        atomic_io.copy_file(vocab_file, os.path.join(output_dir, "vocab.txt"))
    if spm_model_file:
        atomic_io.copy_file(spm_model_file, os.path.join(output_dir, "spm.model"))
    return written


def define_flags():
    """Command-line flags (defined only when run as a script, so entry points can import this)."""
    flags.DEFINE_string("checkpoint", None, "Training checkpoint: prefix, or folder (latest).")
    flags.DEFINE_string("output_dir", None, "Folder of the clean albert_model.ckpt.")
    flags.DEFINE_string("albert_config_file", None, "Optional: written as albert_config.json.")
    flags.DEFINE_string("vocab_file", None, "Optional: copied in as vocab.txt.")
    flags.DEFINE_string("spm_model_file", None, "Optional: copied in as spm.model.")


def run():
    if not FLAGS.checkpoint or not FLAGS.output_dir:
        raise ValueError("--checkpoint and --output_dir are required")
    config = None
    if FLAGS.albert_config_file:
        config, _ = modeling.resolve_variant(
            modeling.AlbertConfig.from_json_file(FLAGS.albert_config_file),
            checkpoint_utils.resolve_checkpoint(FLAGS.checkpoint))
    written = export(FLAGS.checkpoint, FLAGS.output_dir, config, FLAGS.vocab_file,
                     FLAGS.spm_model_file)
    for name, shape in written:
        print("  %s %s" % (name, shape))
    print("exported %d variables to %s" % (len(written), FLAGS.output_dir))


if __name__ == "__main__":
    define_flags()
    cli.run_entry_point(run)
