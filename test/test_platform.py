"""The platform decisions match what this CPU and TensorFlow really run (any x86 CPU: AVX2-only,
AVX-512, with or without oneDNN): each is checked against a probe that runs the feature."""
import pytest

from common import cpu_features, npu_runconfig
from conftest import platform_runs
from ResNext50 import modeling


def test_resnext_auto_group_conv_is_what_the_cpu_runs():
    impl, reason = modeling.choose_group_conv("auto", "cpu")
    # Fails on a CPU without oneDNN if 'grouped' were chosen there, and where grouped conv runs
    # if the choice were needlessly 'split'.
    assert impl == ("grouped" if platform_runs("grouped_conv") else "split"), reason


def test_cpu_mixed_precision_is_bf16_exactly_where_the_rewrite_applies():
    field, precision = npu_runconfig.resolve_precision("allow_mix_precision", "cpu")
    applies = platform_runs("bf16_rewrite")
    assert precision.startswith("bf16") == applies, precision
    assert (field is not None) == applies


def test_onednn_switch_is_read_from_tensorflow(monkeypatch):
    """With oneDNN off (as TF 2.15 leaves it on AVX2-only CPUs) both decisions fall back."""
    monkeypatch.setattr(cpu_features, "onednn_enabled", lambda: False)
    monkeypatch.setattr(modeling.tf, "VERSION", "2.15.1")
    impl, reason = modeling.choose_group_conv("auto", "cpu")
    assert impl == "split" and "oneDNN is off" in reason
    monkeypatch.setattr(npu_runconfig, "cpu_bf16_rewriter_field",
                        lambda: "auto_mixed_precision_onednn_bfloat16")
    field, precision = npu_runconfig.resolve_precision("allow_mix_precision", "cpu")
    assert field is None and precision.startswith("fp32") and "oneDNN is off" in precision
    monkeypatch.setattr(cpu_features, "onednn_enabled", lambda: True)
    assert modeling.choose_group_conv("auto", "cpu")[0] == "grouped"


@pytest.mark.parametrize("device, version, impl", [
    ("npu", "1.15.0", "grouped"), ("gpu", "2.15.1", "grouped"), ("cpu", "1.15.5", "split")])
def test_group_conv_per_device_and_version(monkeypatch, device, version, impl):
    monkeypatch.setattr(modeling.tf, "VERSION", version)
    assert modeling.choose_group_conv("auto", device)[0] == impl
    assert modeling.choose_group_conv("split", device) == ("split", "--group_conv=split")
    with pytest.raises(ValueError, match="--group_conv"):
        modeling.choose_group_conv("winograd", device)


@pytest.mark.parametrize("flags, isa, bf16", [
    ("fpu sse4_2 avx avx2 fma", "AVX2", False),
    ("avx2 avx512f avx512dq avx512bw avx512vl", "AVX-512", True),
    ("avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16", "AVX-512 (+BF16, VNNI)",
     True),
    ("avx2 avx512f", "AVX2", False),          # AVX-512F alone (Xeon Phi) is not oneDNN's core set
    ("sse4_2", "SSE4.2", False)])
def test_isa_summary_and_bf16_capability(flags, isa, bf16):
    flag_set = frozenset(flags.split())
    assert cpu_features.isa_summary(flag_set) == isa
    assert cpu_features.cpu_supports_bf16(flag_set) == bf16


def test_cpu_line_names_model_isa_and_onednn():
    line = cpu_features.describe()
    assert line.startswith("cpu: ") and ("oneDNN on" in line) == cpu_features.onednn_enabled()
    assert cpu_features.isa_summary() in line
