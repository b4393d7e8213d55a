"""The flags every entry point shares (absl flags, as tf.flags is in TF 1.15).

Each model's run_*.py calls `define_common_flags()` once and then defines only its own flags,
under the names of the original code (output_dir, train_batch_size, ...).
"""
from absl import flags

PRECISION_MODES = ("allow_mix_precision", "allow_fp32_to_fp16", "must_keep_origin_dtype",
                   "force_fp32")
DEVICES = ("auto", "npu", "gpu", "cpu")


def define_common_flags(loss_scale_default="dynamic", iterations_per_loop_default=100):
    """Define the shared flags (idempotent: a second call is a no-op)."""
    if "precision_mode" in flags.FLAGS:
        return
    flags.DEFINE_enum("precision_mode", "allow_mix_precision", PRECISION_MODES,
                      "Ascend precision mode. Off Ascend: allow_mix_precision/allow_fp32_to_fp16 turn on "
                      "the platform's automatic mixed precision (fp16 on GPU, bf16 on CPU where TF "
                      "supports it); the other two run fp32.")
    flags.DEFINE_integer("iterations_per_loop", iterations_per_loop_default,
                         "Steps per device loop on Ascend. Off Ascend: the cadence of step lines, "
                         "summaries and throughput accounting.", lower_bound=1)
    flags.DEFINE_enum("device", "auto", DEVICES, "Where to run: auto = npu if npu_bridge is "
                      "installed, else gpu if one is visible, else cpu.")
    flags.DEFINE_integer("seed", 12345, "Graph-level random seed (tf_random_seed).")
    flags.DEFINE_string("loss_scale", loss_scale_default,
                        "'dynamic' (2**32 initial, x2 after 1000 clean steps, x0.5 after 2 overflows), "
                        "a number for a static scale, or 'off'.")
    flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint every N steps.", lower_bound=1)
    flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints to keep.", lower_bound=1)
    flags.DEFINE_bool("xla", False, "Turn on XLA JIT compilation (GPU).")
    flags.DEFINE_bool("deterministic", False,
                      "Ask TensorFlow for deterministic kernels and random ops "
                      "(TF_DETERMINISTIC_OPS=1), for bit-identical reruns on CPU.")
    flags.DEFINE_string("results_json", None,
                        "Where to write the results JSON (default: <output dir>/results.json).")
    flags.DEFINE_integer("timing_skip_steps", 5,
                         "Steps excluded from ms/step and throughput (graph build, compilation, "
                         "warm caches).", lower_bound=0)
