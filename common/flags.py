"""The flags every entry point shares (absl flags, as tf.flags is in TF 1.15).

Each model's run_*.py calls `define_common_flags()` once and then defines only its own flags,
under the names of the original code (output_dir, train_batch_size, ...).
"""
from absl import flags

import re

# Ascend's values; off Ascend the first four run the platform's mixed precision, the last two fp32.
PRECISION_MODES = ("allow_mix_precision", "allow_fp32_to_fp16", "force_fp16", "cube_fp16in_fp32out",
                   "must_keep_origin_dtype", "force_fp32")
_DUMP_STEP = re.compile(r"^\d+(-\d+)?(\|\d+(-\d+)?)*$")


def parse_dump_steps(text):
    """Ascend's dump-step syntax "0|5|10" with ranges "3-5" -> sorted step list; ValueError if bad."""
    if not text:
        return []
    if not _DUMP_STEP.match(text):
        raise ValueError("--data_dump_step must be steps like 0|5|10 or ranges like 3-5, got %r"
                         % text)
    steps = set()
    for part in text.split("|"):
        first, _, last = part.partition("-")
        if last and int(last) < int(first):
            raise ValueError("--data_dump_step range %r ends before it starts" % part)
        steps.update(range(int(first), int(last or first) + 1))
    return sorted(steps)
DEVICES = ("auto", "npu", "gpu", "cpu")


def _valid_dump_steps(text):
    try:
        parse_dump_steps(text)
    except ValueError:
        return False
    return True


def define_common_flags(fp16_loss_scale="dynamic"):
    """Define the shared flags (idempotent: a second call is a no-op).

    fp16_loss_scale: what --loss_scale=auto means when fp16 runs (BERT: dynamic, ResNeXt: 1024)."""
    if "precision_mode" in flags.FLAGS:
        return
    flags.DEFINE_enum("precision_mode", "allow_mix_precision", PRECISION_MODES,
                      "Ascend precision mode. Off Ascend: allow_mix_precision/allow_fp32_to_fp16 turn on "
                      "the platform's automatic mixed precision (fp16 on GPU, bf16 on CPU where TF "
                      "supports it); the other two run fp32.")
    flags.DEFINE_integer("iterations_per_loop", 100,
                         "Steps per device loop on Ascend. Off Ascend: the cadence of step lines, "
                         "summaries and throughput accounting.", lower_bound=1)
    flags.DEFINE_enum("device", "auto", DEVICES, "Where to run: auto = npu if npu_bridge is "
                      "installed, else gpu if one is visible, else cpu.")
    flags.DEFINE_integer("seed", 12345, "Graph-level random seed (tf_random_seed).")
    flags.DEFINE_string("loss_scale", "auto",
                        "The originals' meaning: -1 = off, 0 = dynamic (2**32 initial, x2 after 1000 "
                        "clean steps, x0.5 after 2 overflows), >= 1 = a static scale; the words "
                        "off/dynamic too. auto: %s with fp16 (GPU, NPU), off with fp32 and bf16, where "
                        "it does nothing." % fp16_loss_scale)
    flags.DEFINE_string("fp16_loss_scale", fp16_loss_scale, "What --loss_scale=auto means with "
                        "fp16 (the model's delivery value).")
    flags.DEFINE_bool("over_dump", False, "Ascend: overflow detection dump (DumpConfig "
                      "enable_dump_debug, aicore_overflow). Elsewhere: every step is watched through "
                      "TensorFlow's debugger and the steps with NaN/Inf are kept under "
                      "<output>/over_dump with the op where the first one arose (slow).")
    flags.DEFINE_bool("data_dump_flag", False, "Ascend: dump operator data of --data_dump_step "
                      "(DumpConfig enable_dump). Elsewhere: TensorFlow's debugger writes those steps' "
                      "tensors as .npy under <output>/data_dump/step_N (common/tensor_dump.py).")
    flags.DEFINE_string("data_dump_step", "", "Steps to dump, Ascend syntax 0|5|10 or ranges 3-5.")
    flags.DEFINE_enum("data_dump_mode", "output", ("output", "input", "all"),
                      "What a data dump holds: the ops' outputs, their inputs, or both (DumpConfig "
                      "dump_mode on Ascend).")
    flags.DEFINE_string("data_dump_filter", "", "Off Ascend: dump only ops whose name matches this "
                        "regex (searched), e.g. 'layer_0/|loss'; empty = every op.")
    flags.DEFINE_bool("profiling", False, "Ascend: ProfilingConfig with training_trace. "
                      "Elsewhere: a Chrome-trace timeline of a few steps under <output>/profiling "
                      "and the split of step time into input wait and compute.")
    flags.DEFINE_bool("autotune", False, "Ascend: operator auto-tuning (auto_tune_mode='RL,GA'). "
                      "Elsewhere: no effect (said once).")
    flags.register_validator("data_dump_step", _valid_dump_steps,
                             message="--data_dump_step must be steps like 0|5|10 or ranges like 3-5")
    flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint every N steps.", lower_bound=1)
    flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints to keep.", lower_bound=1)
    flags.DEFINE_bool("xla", False, "Turn on XLA JIT compilation (GPU).")
    flags.DEFINE_bool("deterministic", False,
                      "Ask TensorFlow for deterministic kernels and random ops "
                      "(TF_DETERMINISTIC_OPS=1), for bit-identical reruns on CPU.")
    flags.DEFINE_string("results_json", None,
                        "Where to write the results JSON (default: <output dir>/results.json).")
    flags.DEFINE_bool("synthetic_data", False, "Benchmarking: train on the first batch of the "
                      "input, read once and repeated from memory (no I/O per step; "
                      "common/synthetic_input.py).")
    flags.DEFINE_integer("timing_skip_steps", 5,
                         "Steps excluded from ms/step and throughput (graph build, compilation, "
                         "warm caches).", lower_bound=0)


def define_finetune_flags(config_flag, default_seq_length=128):
    """The fine-tuning flags of BERT's and ALBERT's entry points, under google-research's names.

    config_flag: the model's config flag (bert_config_file, albert_config_file)."""
    flags.DEFINE_string("data_dir", None, "Folder with the task's train / dev / test files.")
    flags.DEFINE_string(config_flag, None, "%s.json of the pre-trained model."
                        % config_flag.replace("_config_file", "_config"))
    flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary of the model.")
    flags.DEFINE_string("output_dir", None, "Checkpoints, features and predictions go here.")
    flags.DEFINE_string("init_checkpoint", None, "Checkpoint (prefix or folder) to start from.")
    flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (uncased / Chinese models).")
    flags.DEFINE_integer("max_seq_length", default_seq_length,
                         "Pieces per feature ([CLS]/[SEP] included); longer inputs are truncated, "
                         "shorter ones padded.")
    flags.DEFINE_bool("do_train", False, "Train.")
    flags.DEFINE_bool("do_eval", False, "Evaluate on the dev set.")
    flags.DEFINE_bool("do_predict", False, "Predict the test set.")
    flags.DEFINE_integer("train_batch_size", 32, "Training batch size.")
    flags.DEFINE_integer("eval_batch_size", 8, "Eval batch size.")
    flags.DEFINE_integer("predict_batch_size", 8, "Predict batch size.")
    flags.DEFINE_float("learning_rate", 5e-5, "Initial learning rate.")
    flags.DEFINE_float("num_train_epochs", 3.0, "Epochs of training (unless --num_train_steps).")
    flags.DEFINE_integer("num_train_steps", 0, "Training steps; 0 = from num_train_epochs.")
    flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of training with linear warmup.")
    flags.DEFINE_bool("use_one_hot_embeddings", False, "One-hot matmul embedding lookup.")


def define_classifier_flags(config_name):
    """Sentence (pair) classification's task flags and the clean export; config_name names the
    config file written beside the export (bert_config.json, albert_config.json)."""
    flags.DEFINE_string("task_name", None, "Task: MRPC, CoLA, SST-2, MNLI, XNLI, chnsenticorp, "
                        "lcqmc.")
    flags.DEFINE_list("label_list", None, "Labels of the generic TSV tasks (default 0,1).")
    flags.DEFINE_string("xnli_language", "zh", "Language of the XNLI task.")
    flags.DEFINE_string("export_dir", None, "After training, write a clean checkpoint (model "
                        "variables + global_step) with %s and the vocabulary here." % config_name)
    flags.DEFINE_bool("baseline", False, "With --do_eval, also score a character TF-IDF + "
                      "logistic regression on the same train/dev split "
                      "(common/classifier_baseline.py) and print it beside Final Precision.")
