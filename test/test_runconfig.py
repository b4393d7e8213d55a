"""Fallback run config: which rewriter runs for which precision_mode, ranks, devices, npu names."""
import os
import types

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from common import npu_compat, npu_runconfig

ON = rewriter_config_pb2.RewriterConfig.ON
BF16 = npu_runconfig.cpu_bf16_rewriter_field()


def fake_flags(**overrides):
    values = dict(precision_mode="allow_mix_precision", iterations_per_loop=10, device="cpu",
                  seed=7, save_checkpoints_steps=50, keep_checkpoint_max=3, xla=False,
                  deterministic=False)
    values.update(overrides)
    return types.SimpleNamespace(**values)


def rewrite_options(config):
    return config.session_config.graph_options.rewrite_options


@pytest.mark.skipif(BF16 is None, reason="this TensorFlow (1.x) has no oneDNN bf16 rewrite")
@pytest.mark.parametrize("mode, mixed", [("allow_mix_precision", True), ("allow_fp32_to_fp16", True),
                                         ("must_keep_origin_dtype", False), ("force_fp32", False)])
def test_cpu_precision_rewriter(mode, mixed, monkeypatch):
    monkeypatch.setattr(npu_runconfig, "_cpu_has_avx512", lambda: True)
    config = npu_runconfig.build_run_config(fake_flags(precision_mode=mode), "/tmp/unused")
    runtime = npu_runconfig.Runtime(fake_flags(precision_mode=mode))
    options = rewrite_options(config)
    assert (getattr(options, BF16) == ON) == mixed
    assert options.auto_mixed_precision != ON  # the GPU fp16 rewrite is never on for cpu
    assert runtime.precision.startswith("bf16") == mixed
    assert config.precision_mode == mode


def test_tf2_15_has_the_bf16_rewrite():
    import tensorflow.compat.v1 as tf
    assert (BF16 == "auto_mixed_precision_onednn_bfloat16") == tf.VERSION.startswith("2.15")


def test_cpu_without_avx512_runs_fp32_and_says_so(monkeypatch):
    monkeypatch.setattr(npu_runconfig, "_cpu_has_avx512", lambda: False)
    monkeypatch.setattr(npu_runconfig, "cpu_bf16_rewriter_field",
                        lambda: "auto_mixed_precision_onednn_bfloat16")
    runtime = npu_runconfig.Runtime(fake_flags())
    assert runtime.rewriter_field is None and "no AVX-512" in runtime.precision


def test_tensorflow_without_bf16_rewrite_runs_fp32_and_says_so(monkeypatch):
    monkeypatch.setattr(npu_runconfig, "_cpu_has_avx512", lambda: True)
    monkeypatch.setattr(npu_runconfig, "cpu_bf16_rewriter_field", lambda: None)
    runtime = npu_runconfig.Runtime(fake_flags())
    config = runtime.session_config()
    assert runtime.rewriter_field is None and "no bf16 auto-mixed-precision" in runtime.precision
    assert config.graph_options.rewrite_options.auto_mixed_precision != ON


def test_gpu_precision_uses_fp16_rewrite():
    field, description = npu_runconfig.resolve_precision("allow_mix_precision", "gpu")
    assert field == "auto_mixed_precision" and "fp16" in description
    assert npu_runconfig.resolve_precision("force_fp32", "gpu") == (None, "fp32 (gpu, force_fp32)")


def test_iterations_per_loop_sets_logging_cadence():
    config = npu_runconfig.build_run_config(fake_flags(iterations_per_loop=25), "/tmp/unused")
    assert config.log_step_count_steps == 25
    assert config.save_summary_steps == 25
    assert config.iterations_per_loop == 25
    assert config.tf_random_seed == 7
    assert config.save_checkpoints_steps == 50 and config.keep_checkpoint_max == 3
    assert config.session_config.device_count["GPU"] == 0


def test_xla_and_determinism_options(monkeypatch):
    monkeypatch.setenv("TF_DETERMINISTIC_OPS", "0")  # restored (unset) after the test
    config = npu_runconfig.build_run_config(fake_flags(xla=True, deterministic=True), "/tmp/x")
    assert config.session_config.graph_options.optimizer_options.global_jit_level == \
        tf.OptimizerOptions.ON_1
    assert os.environ["TF_DETERMINISTIC_OPS"] == "1"


@pytest.mark.parametrize("env, message", [({"RANK_SIZE": "2", "RANK_ID": "0"}, "needs npu_bridge"),
                                          ({"RANK_SIZE": "2", "RANK_ID": "2"}, "RANK_ID < RANK_SIZE"),
                                          ({"RANK_SIZE": "x"}, "must be integers")])
def test_rank_errors(monkeypatch, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(npu_runconfig.UsageError, match=message):
        npu_runconfig.Runtime(fake_flags())


def test_npu_device_without_npu_bridge_is_a_clear_error():
    assert not npu_compat.HAVE_NPU
    with pytest.raises(npu_runconfig.UsageError, match="npu_bridge is not installed"):
        npu_runconfig.Runtime(fake_flags(device="npu"))


def test_fallback_names_exist():
    for name in ("NPURunConfig", "NPUEstimator", "NPUEstimatorSpec", "npu_config_proto",
                 "NPULossScaleOptimizer", "FixedLossScaleManager",
                 "ExponentialUpdateLossScaleManager", "NPUDistributedOptimizer", "npu_ops"):
        assert hasattr(npu_compat, name), name
    opt = tf.train.GradientDescentOptimizer(0.1)
    assert npu_compat.NPUDistributedOptimizer(opt) is opt
    proto = tf.ConfigProto(allow_soft_placement=True)
    assert npu_compat.npu_config_proto(config_proto=proto) is proto


def test_npu_ops_dropout_uses_keep_prob(tf_graph):
    x = tf.ones([20000])
    kept = npu_compat.npu_ops.dropout(x, keep_prob=0.8, seed=1)
    same = npu_compat.npu_ops.dropout(x, keep_prob=1.0)
    with tf.Session() as sess:
        values, identity = sess.run([kept, same])
    assert abs(np.mean(values == 0) - 0.2) < 0.02            # 20 % dropped
    np.testing.assert_allclose(values[values > 0], 1.25)     # survivors scaled by 1/keep_prob
    np.testing.assert_array_equal(identity, np.ones(20000))


def test_estimator_spec_fallback_ignores_host_call(tf_graph):
    loss = tf.constant(1.0)
    spec = npu_compat.NPUEstimatorSpec(tf.estimator.ModeKeys.EVAL, loss=loss, host_call=(None, []))
    assert spec.loss is loss
