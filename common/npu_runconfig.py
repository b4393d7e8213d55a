"""Run config and estimator from the shared flags: backend, precision, iterations_per_loop, ranks.

On Ascend (npu_bridge installed) this builds an NPURunConfig with precision_mode,
iterations_per_loop, enable_data_pre_proc and hcom_parallel (RANK_SIZE > 1); with RANK_SIZE > 1
only rank 0 saves checkpoints, as the originals.

Elsewhere it builds a tf.estimator.RunConfig whose session config applies the platform's automatic
mixed precision for `allow_mix_precision` / `allow_fp32_to_fp16`:
  * GPU: the fp16 auto-mixed-precision graph rewrite (loss scaling stays on, as on Ascend);
  * CPU: oneDNN's bfloat16 auto-mixed-precision rewrite, when this TensorFlow has it (2.9+), its
    oneDNN kernels are on and the CPU can run bf16 (common/cpu_features.py); otherwise fp32;
and plain fp32 for `must_keep_origin_dtype` / `force_fp32`. One `precision: ...` line says which.
With RANK_SIZE > 1 it needs TF_CONFIG and adds MultiWorkerMirroredStrategy as train_distribute
(common/multiworker.py; the ranks are started by common/launcher.py).

`iterations_per_loop` off Ascend: the host has no device loop, so it sets the cadence of what the
host sees of the loop - step lines, Estimator's own global_step/sec lines and summaries - and the
accounting of throughput per loop. Training is still one session.run per step.
"""
import inspect
import json
import os
import random
import re
import sys

import numpy as np

import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from common import cluster, cpu_features, multiworker
from common.flags import parse_dump_steps
from common.npu_compat import (HAVE_NPU, DumpConfig, NPUEstimator, NPURunConfig, ProfilingConfig,
                               npu_config_proto)
from common.optimization import parse_loss_scale

MIXED_MODES = ("allow_mix_precision", "allow_fp32_to_fp16", "force_fp16", "cube_fp16in_fp32out")
# Off Ascend these have no exact equivalent: the platform's mixed precision is the closest.
APPROXIMATED_MODES = ("force_fp16", "cube_fp16in_fp32out")


class UsageError(ValueError):
    """A flag or environment value that makes the run impossible; reported as one line."""


def check_max_seq_length(max_seq_length, config, config_flag, config_path):
    """--max_seq_length must fit the model config's position table (BERT, ALBERT)."""
    if max_seq_length > config.max_position_embeddings:
        raise UsageError("--max_seq_length=%d > max_position_embeddings=%d of --%s=%s"
                         % (max_seq_length, config.max_position_embeddings, config_flag,
                            config_path))


def rank_info():
    """(rank_id, rank_size) from RANK_ID / RANK_SIZE (defaults 0 / 1)."""
    try:
        rank_id = int(os.environ.get("RANK_ID", "0"))
        rank_size = int(os.environ.get("RANK_SIZE", "1"))
    except ValueError:
        raise UsageError("RANK_ID and RANK_SIZE must be integers, got %r / %r"
                         % (os.environ.get("RANK_ID"), os.environ.get("RANK_SIZE")))
    if rank_size < 1 or not 0 <= rank_id < rank_size:
        raise UsageError("need 0 <= RANK_ID < RANK_SIZE, got %d / %d" % (rank_id, rank_size))
    return rank_id, rank_size


def _gpu_visible():
    return tf.test.is_built_with_cuda() and tf.test.is_gpu_available(cuda_only=True)


def resolve_device(device):
    if device == "auto":
        if HAVE_NPU:
            return "npu"
        return "gpu" if _gpu_visible() else "cpu"
    if device == "npu" and not HAVE_NPU:
        raise UsageError("--device=npu but npu_bridge is not installed (use --device=auto|gpu|cpu)")
    if device == "gpu" and not _gpu_visible():
        raise UsageError("--device=gpu but TensorFlow sees no GPU (use --device=auto|cpu)")
    return device


def _rewriter_fields():
    return set(rewriter_config_pb2.RewriterConfig.DESCRIPTOR.fields_by_name)


def cpu_bf16_rewriter_field():
    """The RewriterConfig field of oneDNN's bf16 auto-mixed-precision, or None if unavailable."""
    for field in ("auto_mixed_precision_onednn_bfloat16", "auto_mixed_precision_mkl"):
        if field in _rewriter_fields():
            return field
    return None


def resolve_precision(precision_mode, device):
    """(rewriter field to turn on or None, description of what really runs)."""
    if device == "npu":
        return None, "%s (npu)" % precision_mode
    if precision_mode not in MIXED_MODES:
        return None, "fp32 (%s, %s)" % (device, precision_mode)
    closest = (" for --precision_mode=%s, the closest off Ascend" % precision_mode
               if precision_mode in APPROXIMATED_MODES else "")
    if device == "gpu":
        return "auto_mixed_precision", "fp16 auto-mixed-precision (gpu)" + closest
    field = cpu_bf16_rewriter_field()
    if field is None:
        return None, "fp32 (cpu: this TensorFlow has no bf16 auto-mixed-precision rewrite)"
    if not cpu_features.onednn_enabled():
        # TensorFlow then skips the rewrite without a word: say it here.
        return None, ("fp32 (cpu: oneDNN is off in this TensorFlow on this CPU, so its bf16 "
                      "rewrite does not apply)")
    if not cpu_features.cpu_supports_bf16():
        return None, "fp32 (cpu: no AVX-512 or AMX, oneDNN bf16 rewrite not applicable)"
    return field, "bf16 auto-mixed-precision (cpu)" + closest


class Runtime:
    """What a run resolved to: device, precision, loop size, ranks. Built once per process."""

    def __init__(self, flags_obj):
        self.flags = flags_obj
        self.rank_id, self.rank_size = rank_info()
        self.device = resolve_device(flags_obj.device)
        # Off Ascend, several ranks are workers of TensorFlow's collective runtime.
        self.multi_worker = self.rank_size > 1 and self.device != "npu"
        if self.multi_worker:
            try:
                multiworker.check_environment(self.rank_id, self.rank_size)
            except cluster.ClusterError as exc:
                raise UsageError(str(exc))
        self.precision_mode = flags_obj.precision_mode
        self.rewriter_field, self.precision = resolve_precision(self.precision_mode, self.device)
        self.iterations_per_loop = flags_obj.iterations_per_loop
        self.loss_scale = resolve_loss_scale(flags_obj, self.device, self.precision)
        # Entry points read FLAGS.loss_scale when they build the train op: hand them the resolved
        # value, so that 'auto' is decided here once.
        flags_obj.loss_scale = self.loss_scale
        self.dump_steps = parse_dump_steps(getattr(flags_obj, "data_dump_step", ""))
        self.over_dump = bool(getattr(flags_obj, "over_dump", False))
        self.data_dump = bool(getattr(flags_obj, "data_dump_flag", False))
        if self.over_dump and self.data_dump:
            raise UsageError("--over_dump and --data_dump_flag cannot both be on (Ascend dumps "
                             "either overflow data or operator data)")
        if self.data_dump and not self.dump_steps:
            raise UsageError("--data_dump_flag=True needs --data_dump_step (e.g. 0|5|10)")
        self.dump_mode = getattr(flags_obj, "data_dump_mode", "output")
        self.dump_filter = getattr(flags_obj, "data_dump_filter", "") or None
        if self.dump_filter:
            try:
                re.compile(self.dump_filter)
            except re.error as exc:
                raise UsageError("--data_dump_filter is not a regular expression (%s): %r"
                                 % (exc, self.dump_filter))
        self.profiling = bool(getattr(flags_obj, "profiling", False))
        self.autotune = bool(getattr(flags_obj, "autotune", False))
        self.model_dir = None
        # tf_random_seed seeds the graph; TF 2.x's Keras-backed tf.layers initializers draw their
        # op seeds from Python's `random`, and data generators use numpy: seed both too.
        random.seed(flags_obj.seed)
        np.random.seed(flags_obj.seed % 2 ** 32)
        if flags_obj.deterministic:
            # Deterministic kernels and random ops in parallel tf.data maps; read by TF 2.x when the
            # first session starts (enable_op_determinism is not in TF 1.15's API). Thread counts
            # need no change: measured, 1..8 intra-op threads gave bit-identical losses.
            os.environ["TF_DETERMINISTIC_OPS"] = "1"

    def describe(self):
        return "device: %s, precision: %s, loss scale: %s, iterations_per_loop: %d, rank: %d/%d" % (
            self.device, self.precision, self.loss_scale, self.iterations_per_loop, self.rank_id,
            self.rank_size)

    def harness_notes(self):
        """One line per Ascend harness option that was asked for, saying what it does here."""
        notes = []
        on_npu = self.device == "npu"
        if self.over_dump:
            notes.append("over_dump: " + ("overflow detection dump (DumpConfig enable_dump_debug, "
                                          "aicore_overflow)" if on_npu else
                                          "every step watched by TensorFlow's debugger; steps with "
                                          "NaN/Inf kept under <output>/over_dump (slow)"))
        if self.data_dump:
            notes.append("data_dump: steps %s, %s%s, %s" % (
                "|".join(str(s) for s in self.dump_steps), self.dump_mode,
                " of ops matching %r" % self.dump_filter if self.dump_filter else "",
                "dumped by DumpConfig" if on_npu else
                "written by TensorFlow's debugger as .npy under <output>/data_dump/step_N"))
        if self.profiling:
            notes.append("profiling: " + ("ProfilingConfig training_trace" if on_npu else
                                          "Chrome-trace timelines of a few steps under "
                                          "<output>/profiling, with the input-wait split"))
        if self.autotune:
            notes.append("autotune: " + ("auto_tune_mode RL,GA" if on_npu else
                                         "no effect off Ascend"))
        return notes
    def session_config(self):
        config = tf.ConfigProto(allow_soft_placement=True)
        if self.device == "cpu":
            config.device_count["GPU"] = 0
        if self.device == "gpu":
            config.gpu_options.allow_growth = True
        if self.rewriter_field:
            setattr(config.graph_options.rewrite_options, self.rewriter_field,
                    rewriter_config_pb2.RewriterConfig.ON)
        if self.flags.xla:
            config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
        if self.multi_worker:
            config = multiworker.session_config(config)
        return npu_config_proto(config_proto=config) if self.device == "npu" else config

    def run_config(self, model_dir, **overrides):
        self.model_dir = model_dir   # where --profiling writes its timelines
        flags_obj = self.flags
        ipl = self.iterations_per_loop
        kwargs = dict(model_dir=model_dir, tf_random_seed=flags_obj.seed,
                      save_checkpoints_steps=flags_obj.save_checkpoints_steps,
                      keep_checkpoint_max=flags_obj.keep_checkpoint_max,
                      log_step_count_steps=ipl, save_summary_steps=ipl,
                      session_config=self.session_config(), iterations_per_loop=ipl,
                      precision_mode=self.precision_mode)
        if self.device == "npu":
            kwargs.update(enable_data_pre_proc=True, hcom_parallel=self.rank_size > 1)
            kwargs.update(self._npu_options(model_dir))
            if self.rank_id != 0:    # the originals: only rank 0 saves checkpoints
                kwargs.update(save_checkpoints_steps=None, save_checkpoints_secs=None)
        if self.multi_worker:
            kwargs.update(train_distribute=multiworker.strategy())
        kwargs.update(overrides)
        return NPURunConfig(**kwargs)


    def _npu_options(self, model_dir):
        """Dump, profiling, autotune and determinism options of NPURunConfig, as the originals."""
        options = {}
        if self.over_dump or self.data_dump:
            dump_path = os.path.join(model_dir, "npu_dump")
            os.makedirs(dump_path, exist_ok=True)
            if self.over_dump:
                options["dump_config"] = DumpConfig(enable_dump_debug=True, dump_path=dump_path,
                                                    dump_debug_mode="aicore_overflow")
            else:
                options["dump_config"] = DumpConfig(
                    enable_dump=True, dump_path=dump_path, dump_mode=self.dump_mode,
                    dump_step="|".join(str(s) for s in self.dump_steps))
        if self.profiling:
            profiling_dir = os.path.join(model_dir, "profiling")
            os.makedirs(profiling_dir, exist_ok=True)
            options["profiling_config"] = ProfilingConfig(
                enable_profiling=True, profiling_options=json.dumps(
                    {"output": profiling_dir, "training_trace": "on", "task_trace": "on"}))
        if self.autotune:
            options["auto_tune_mode"] = "RL,GA"
        if self.flags.deterministic and "deterministic" in \
                inspect.signature(NPURunConfig.__init__).parameters:
            options["deterministic"] = 1      # newer adapters only; older ones have no such option
        return options


def resolve_loss_scale(flags_obj, device, precision):
    """--loss_scale with 'auto' decided: the model's fp16 value where fp16 runs, else off."""
    spec = str(flags_obj.loss_scale).strip().lower()
    if spec == "auto":
        fp16 = device in ("gpu", "npu") and flags_obj.precision_mode in MIXED_MODES
        return str(getattr(flags_obj, "fp16_loss_scale", "dynamic")) if fp16 else "off"
    kind, value = parse_loss_scale(spec)
    return "%g" % value if kind == "static" else kind


def resolve(flags_obj):
    """Resolve and announce the runtime (one `device: ..., precision: ...` line on stdout)."""
    runtime = Runtime(flags_obj)
    print(runtime.describe(), flush=True)
    if runtime.device == "cpu":
        print(cpu_features.describe(), flush=True)
    for note in runtime.harness_notes():
        print(note, flush=True)
    return runtime


def build_run_config(flags_obj, model_dir, runtime=None, **overrides):
    return (runtime or resolve(flags_obj)).run_config(model_dir, **overrides)


def build_estimator(model_fn, run_config, params=None, warm_start_from=None):
    return NPUEstimator(model_fn=model_fn, config=run_config, params=params,
                        warm_start_from=warm_start_from)


def check_loop_alignment(num_steps, iterations_per_loop, flag_name="train_steps"):
    """On Ascend, steps run in whole loops; warn (stderr) when a step count is not a multiple."""
    if num_steps % iterations_per_loop:
        print("warning: --%s=%d is not a multiple of --iterations_per_loop=%d; on Ascend the run "
              "ends at a loop boundary" % (flag_name, num_steps, iterations_per_loop),
              file=sys.stderr)
