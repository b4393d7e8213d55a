"""Fallback run config: which rewriter runs for which precision_mode, ranks, devices, npu names."""
import os
import types

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from common import cpu_features, npu_compat, npu_runconfig

ON = rewriter_config_pb2.RewriterConfig.ON
BF16 = npu_runconfig.cpu_bf16_rewriter_field()


def fake_flags(**overrides):
    values = dict(precision_mode="allow_mix_precision", iterations_per_loop=10, device="cpu",
                  seed=7, save_checkpoints_steps=50, keep_checkpoint_max=3, xla=False,
                  deterministic=False, loss_scale="auto", fp16_loss_scale="dynamic")
    values.update(overrides)
    return types.SimpleNamespace(**values)


def rewrite_options(config):
    return config.session_config.graph_options.rewrite_options


@pytest.mark.skipif(BF16 is None, reason="this TensorFlow (1.x) has no oneDNN bf16 rewrite")
@pytest.mark.parametrize("mode, mixed", [("allow_mix_precision", True), ("allow_fp32_to_fp16", True),
                                         ("must_keep_origin_dtype", False), ("force_fp32", False)])
def test_cpu_precision_rewriter(mode, mixed, monkeypatch):
    monkeypatch.setattr(cpu_features, "onednn_enabled", lambda: True)
    monkeypatch.setattr(cpu_features, "cpu_supports_bf16", lambda: True)
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
    monkeypatch.setattr(cpu_features, "onednn_enabled", lambda: True)
    monkeypatch.setattr(cpu_features, "cpu_supports_bf16", lambda: False)
    monkeypatch.setattr(npu_runconfig, "cpu_bf16_rewriter_field",
                        lambda: "auto_mixed_precision_onednn_bfloat16")
    runtime = npu_runconfig.Runtime(fake_flags())
    assert runtime.rewriter_field is None and "no AVX-512" in runtime.precision


def test_tensorflow_without_bf16_rewrite_runs_fp32_and_says_so(monkeypatch):
    monkeypatch.setattr(cpu_features, "onednn_enabled", lambda: True)
    monkeypatch.setattr(cpu_features, "cpu_supports_bf16", lambda: True)
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


@pytest.mark.parametrize("env, message", [({"RANK_SIZE": "2", "RANK_ID": "0"}, "needs TF_CONFIG"),
                                          ({"RANK_SIZE": "2", "RANK_ID": "2"}, "RANK_ID < RANK_SIZE"),
                                          ({"RANK_SIZE": "x"}, "must be integers")])
def test_rank_errors(monkeypatch, env, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(npu_runconfig.UsageError, match=message):
        npu_runconfig.Runtime(fake_flags())


NO_NPU = pytest.mark.skipif(npu_compat.HAVE_NPU, reason="npu_bridge is installed: the fallback "
                            "is not in use on this host")


@NO_NPU
def test_npu_device_without_npu_bridge_is_a_clear_error():
    with pytest.raises(npu_runconfig.UsageError, match="npu_bridge is not installed"):
        npu_runconfig.Runtime(fake_flags(device="npu"))


@NO_NPU
def test_fallback_names_exist():
    for name in ("NPURunConfig", "NPUEstimator", "NPUEstimatorSpec", "npu_config_proto",
                 "NPULossScaleOptimizer", "FixedLossScaleManager",
                 "ExponentialUpdateLossScaleManager", "NPUDistributedOptimizer", "npu_ops"):
        assert hasattr(npu_compat, name), name
    opt = tf.train.GradientDescentOptimizer(0.1)
    assert npu_compat.NPUDistributedOptimizer(opt) is opt
    proto = tf.ConfigProto(allow_soft_placement=True)
    assert npu_compat.npu_config_proto(config_proto=proto) is proto


@NO_NPU
def test_npu_ops_dropout_uses_keep_prob(tf_graph):
    x = tf.ones([20000])
    kept = npu_compat.npu_ops.dropout(x, keep_prob=0.8, seed=1)
    same = npu_compat.npu_ops.dropout(x, keep_prob=1.0)
    with tf.Session() as sess:
        values, identity = sess.run([kept, same])
    assert abs(np.mean(values == 0) - 0.2) < 0.02            # 20 % dropped
    np.testing.assert_allclose(values[values > 0], 1.25)     # survivors scaled by 1/keep_prob
    np.testing.assert_array_equal(identity, np.ones(20000))


@NO_NPU
def test_estimator_spec_fallback_ignores_host_call(tf_graph):
    loss = tf.constant(1.0)
    spec = npu_compat.NPUEstimatorSpec(tf.estimator.ModeKeys.EVAL, loss=loss, host_call=(None, []))
    assert spec.loss is loss


@pytest.mark.parametrize("device, mode, spec, expected", [
    ("gpu", "allow_mix_precision", "auto", "dynamic"),    # fp16: loss scaling on
    ("cpu", "allow_mix_precision", "auto", "off"),        # bf16 / fp32: it would do nothing
    ("gpu", "force_fp32", "auto", "off"),
    ("cpu", "force_fp32", "0", "dynamic"),                # the originals: 0 = dynamic
    ("gpu", "allow_mix_precision", "-1", "off"),          # -1 = off
    ("cpu", "force_fp32", "1024", "1024")])               # >= 1 = static
def test_loss_scale_semantics_of_the_originals(device, mode, spec, expected):
    flags_obj = fake_flags(precision_mode=mode, loss_scale=spec)
    assert npu_runconfig.resolve_loss_scale(flags_obj, device, "") == expected


def test_auto_loss_scale_uses_the_models_fp16_value():
    flags_obj = fake_flags(fp16_loss_scale="1024")
    assert npu_runconfig.resolve_loss_scale(flags_obj, "gpu", "") == "1024"
    runtime = npu_runconfig.Runtime(fake_flags())         # cpu: off, and the flag is rewritten
    assert runtime.loss_scale == "off" and runtime.flags.loss_scale == "off"
    assert "loss scale: off" in runtime.describe()


@pytest.mark.parametrize("mode", ["force_fp16", "cube_fp16in_fp32out"])
def test_ascend_only_precision_modes_map_to_the_closest(mode, monkeypatch):
    field, description = npu_runconfig.resolve_precision(mode, "gpu")
    assert field == "auto_mixed_precision" and "closest off Ascend" in description
    assert npu_runconfig.resolve_precision(mode, "npu") == (None, "%s (npu)" % mode)


def test_harness_options_are_validated_and_said(monkeypatch):
    runtime = npu_runconfig.Runtime(fake_flags(over_dump=True, profiling=True, autotune=True))
    notes = runtime.harness_notes()
    assert [n.split(":")[0] for n in notes] == ["over_dump", "profiling", "autotune"]
    assert "no effect off Ascend" in notes[-1]
    runtime = npu_runconfig.Runtime(fake_flags(data_dump_flag=True, data_dump_step="0|3-5|10"))
    assert runtime.dump_steps == [0, 3, 4, 5, 10]
    with pytest.raises(npu_runconfig.UsageError, match="cannot both be on"):
        npu_runconfig.Runtime(fake_flags(over_dump=True, data_dump_flag=True, data_dump_step="1"))
    with pytest.raises(npu_runconfig.UsageError, match="needs --data_dump_step"):
        npu_runconfig.Runtime(fake_flags(data_dump_flag=True))
    for bad in ("5-3", "1,2", "a", "|3"):
        with pytest.raises(ValueError, match="data_dump_step"):
            npu_runconfig.Runtime(fake_flags(data_dump_step=bad))
