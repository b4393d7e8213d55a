"""The one place that imports Ascend's `npu_bridge`.

On an Ascend machine the real classes are re-exported. Everywhere else this module supplies working
stand-ins under the same names, so model code is written once, exactly as it would be on Ascend:

    from common.npu_compat import NPUEstimatorSpec, NPULossScaleOptimizer, npu_ops, ...

Fallback semantics (documented in README.md):
  * NPURunConfig   - a tf.estimator.RunConfig that also records the NPU-only settings
                     (iterations_per_loop, precision_mode, enable_data_pre_proc, hcom_parallel).
  * NPUEstimator   - tf.estimator.Estimator.
  * NPUEstimatorSpec - tf.estimator.EstimatorSpec (an NPU-only `host_call` is accepted and ignored).
  * npu_config_proto - returns the given (or a new) ConfigProto unchanged.
  * NPULossScaleOptimizer, FixedLossScaleManager, ExponentialUpdateLossScaleManager - common/loss_scale.py.
  * NPUDistributedOptimizer - under a multi-replica tf.distribute strategy (RANK_SIZE > 1 off
                     Ascend, common/multiworker.py) common.multiworker.DistributedOptimizer:
                     gradients all-reduced to the job's mean; otherwise the optimizer itself.
  * npu_ops.dropout(x, keep_prob, noise_shape=None, seed=None, name=None) - tf.nn.dropout.
  * DumpConfig, ProfilingConfig - keep their options; the fallback's profiling is common/profiling.py.
"""
import importlib.util
import types

import tensorflow.compat.v1 as tf

HAVE_NPU = importlib.util.find_spec("npu_bridge") is not None

if HAVE_NPU:
    from npu_bridge.npu_init import (  # noqa: F401  (re-exported)
        ExponentialUpdateLossScaleManager, FixedLossScaleManager, NPUDistributedOptimizer,
        NPUEstimator, NPUEstimatorSpec, NPULossScaleOptimizer, NPURunConfig, npu_config_proto)
    from npu_bridge.estimator import npu_ops  # noqa: F401
    from npu_bridge.estimator.npu.npu_config import DumpConfig, ProfilingConfig  # noqa: F401
else:
    from common.loss_scale import (  # noqa: F401  (re-exported)
        ExponentialUpdateLossScaleManager, FixedLossScaleManager,
        LossScaleOptimizer as NPULossScaleOptimizer)

    class NPURunConfig(tf.estimator.RunConfig):
        """tf.estimator.RunConfig that keeps the NPU-only settings for the fallback to honour."""

        def __init__(self, iterations_per_loop=1, precision_mode=None, enable_data_pre_proc=False,
                     hcom_parallel=False, **run_config_kwargs):
            super().__init__(**run_config_kwargs)
            self.iterations_per_loop = iterations_per_loop
            self.precision_mode = precision_mode
            self.enable_data_pre_proc = enable_data_pre_proc
            self.hcom_parallel = hcom_parallel

    class NPUEstimator(tf.estimator.Estimator):
        """tf.estimator.Estimator; `job_start_file` (NPU-only) is accepted and ignored."""

        def __init__(self, model_fn, model_dir=None, config=None, params=None, job_start_file="",
                     warm_start_from=None):
            del job_start_file
            super().__init__(model_fn=model_fn, model_dir=model_dir, config=config, params=params,
                             warm_start_from=warm_start_from)

    def NPUEstimatorSpec(mode, host_call=None, **spec_kwargs):  # noqa: N802 (Ascend's name)
        """tf.estimator.EstimatorSpec; the NPU-only `host_call` has no fallback meaning."""
        del host_call
        return tf.estimator.EstimatorSpec(mode, **spec_kwargs)

    def npu_config_proto(config_proto=None):
        """The session config the NPU needs added; off Ascend the config is returned as is."""
        return config_proto if config_proto is not None else tf.ConfigProto()

    def NPUDistributedOptimizer(optimizer, *args, **kwargs):  # noqa: N802 (Ascend's name)
        """Gradient all-reduce wrapper under a multi-replica strategy, else the optimizer itself."""
        del args, kwargs
        from common import multiworker
        if tf.distribute.has_strategy() and \
                tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return multiworker.DistributedOptimizer(optimizer)
        return optimizer

    def _dropout(x, keep_prob, noise_shape=None, seed=None, name=None):
        """npu_ops.dropout's signature (keep_prob, not rate) over tf.nn.dropout."""
        return tf.nn.dropout(x, rate=1.0 - keep_prob, noise_shape=noise_shape, seed=seed, name=name)

    npu_ops = types.SimpleNamespace(dropout=_dropout)

    class _RecordedOptions:
        """Keeps the keyword arguments of an NPU-only options object (nothing runs them)."""

        def __init__(self, **options):
            self.options = options

    class DumpConfig(_RecordedOptions):
        """Ascend's DumpConfig(enable_dump, dump_path, dump_step, dump_mode, enable_dump_debug,
        dump_debug_mode); off Ascend the options are only recorded."""

    class ProfilingConfig(_RecordedOptions):
        """Ascend's ProfilingConfig(enable_profiling, profiling_options); recorded only."""
