"""What this CPU and this TensorFlow build can really run: the one place that reads /proc/cpuinfo.

Two decisions depend on it, and both differ between the x86 machines this project lands on:

* oneDNN. TensorFlow 2.15 turns its oneDNN CPU kernels on by default only on CPUs with AVX-512
  VNNI/BF16, AVX-VNNI or AMX (an AVX2-only or a Skylake-class AVX-512 CPU runs the plain Eigen
  kernels), unless TF_ENABLE_ONEDNN_OPTS says otherwise; stock TF 1.15 has no oneDNN at all.
  Eigen's CPU convolution has no grouped forward pass when fused and no grouped gradient, and the
  bf16 auto-mixed-precision rewrite is oneDNN's (with oneDNN off it silently leaves the graph fp32).
* bf16 arithmetic. oneDNN's bf16 kernels need AVX-512 (core: F, BW, VL, DQ) or AMX / AVX-NE-CONVERT.

`onednn_enabled()` asks TensorFlow itself (the same switch its kernels read), so a decision made
from it matches what runs. Tests check each decision against a probe of what really executes.
"""
import functools
import platform

# oneDNN's bf16 support: AVX-512 core (emulated dot products) or the native bf16 instructions.
_AVX512_CORE = ("avx512f", "avx512bw", "avx512vl", "avx512dq")
_NATIVE_BF16 = ("avx512_bf16", "amx_bf16", "avx_ne_convert")


@functools.lru_cache(maxsize=None)
def _cpuinfo_field(name):
    """The first `name : value` of /proc/cpuinfo, or None where there is none."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_flags():
    """The CPU's feature flags (lower case) from /proc/cpuinfo; empty where there is none."""
    return frozenset((_cpuinfo_field("flags") or "").split())


def cpu_model_name():
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def isa_summary(flags=None):
    """The widest vector ISA, e.g. 'AVX-512 (+BF16, VNNI)', 'AVX2', 'SSE4.2'."""
    flags = cpu_flags() if flags is None else flags
    if all(f in flags for f in _AVX512_CORE):
        extras = [name for flag, name in (("avx512_bf16", "BF16"), ("avx512_vnni", "VNNI"),
                                          ("amx_bf16", "AMX")) if flag in flags]
        return "AVX-512" + (" (+%s)" % ", ".join(extras) if extras else "")
    for flag, name in (("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2")):
        if flag in flags:
            return name
    return platform.machine()


def cpu_supports_bf16(flags=None):
    """True when oneDNN can run bf16 kernels on this CPU."""
    flags = cpu_flags() if flags is None else flags
    return all(f in flags for f in _AVX512_CORE) or any(f in flags for f in _NATIVE_BF16)


@functools.lru_cache(maxsize=None)
def onednn_enabled():
    """True when this TensorFlow process runs oneDNN CPU kernels (TensorFlow's own answer)."""
    # The switch lives in a private module whose path changed between 1.15 and 2.x; stock 1.15
    # is built without oneDNN, so a build that exposes neither answers False.
    try:
        from tensorflow.python.util import _pywrap_util_port as util_port
    except ImportError:
        try:
            from tensorflow.python import pywrap_tensorflow as util_port
        except ImportError:
            return False
    is_enabled = getattr(util_port, "IsMklEnabled", None)
    return bool(is_enabled()) if is_enabled else False


def describe():
    """One line for the log: CPU model, ISA and whether oneDNN's kernels run."""
    return "cpu: %s, %s, oneDNN %s" % (cpu_model_name(), isa_summary(),
                                       "on" if onednn_enabled() else "off")
