# coding=utf-8
"""A clean XLNet checkpoint from a training checkpoint: model/* variables and global_step only (no
Adam slots, no loss-scale state), as xlnet_model.ckpt beside xlnet_config.json and spiece.model,
so the folder serves as --model_path (the original's clean_ckpt keeps the same names)."""

import os

from XLNet import modeling
from common import atomic_io, checkpoint_utils


def is_model_variable(name):
    return name.startswith("model/") and "adam" not in name.lower() \
        and not name.endswith(("/m", "/v"))


def export(checkpoint, output_dir, config_file=None, spiece_model_file=None):
    config = modeling.XLNetConfig.from_json_file(config_file) if config_file else None
    os.makedirs(output_dir, exist_ok=True)
    written = checkpoint_utils.export_clean_checkpoint(
        checkpoint, os.path.join(output_dir, "xlnet_model.ckpt"), is_model_variable)
    if config is not None:
        atomic_io.write_text(os.path.join(output_dir, "xlnet_config.json"), config.to_json_string())
    if spiece_model_file:
        atomic_io.copy_file(spiece_model_file, os.path.join(output_dir, "spiece.model"))
    return written
