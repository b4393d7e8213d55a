"""What decides whether two runs are comparable, recorded in every results JSON ("fingerprint").

Ascend's precision-debugging procedure starts by ruling out configuration differences before any
tensor is read: hyper-parameters, library versions, environment, the data actually read, the
initial weights, the precision that really ran. `collect(runtime)` gathers them;
`common.compare` prints `differences(a, b)` above the loss table.

Data files are found from the entry points' own input flags (`data_dir`, `input_file`,
`vocab_file`, ... : `INPUT_FLAGS`); each is recorded with its size and the SHA-256 of its first
MiB (enough to tell two data sets apart without reading gigabytes). Checkpoints come from
common/checkpoint_utils, which notes each one it initialises from.
"""
import glob
import hashlib
import os
import platform
import re
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Flags that name what a run reads (data, vocabulary, config); checkpoints are recorded apart.
INPUT_FLAGS = ("data_dir", "input_file", "eval_input_file", "vocab_file", "spm_model_file",
               "spiece_model_file", "bert_config_file", "albert_config_file", "model_config_path",
               "label_list")
# Flags that say where a run writes: they differ between any two runs and decide nothing.
OUTPUT_FLAGS = ("output_dir", "model_dir", "results_json", "export_dir", "output_file", "log_dir")
ENV_PATTERN = re.compile(r"^(TF_|ASCEND_|RANK_|HCCL_|OMP_|KMP_|MKL_|DNNL_|ONEDNN_|CUDA_|NCCL_|"
                         r"DEVICE_ID$|JOB_ID$|PYTHONHASHSEED$|GE_|DUMP_)")
HASH_BYTES = 1 << 20
MAX_FILES_PER_FLAG = 64


def file_record(path):
    """{path, size, sha256_first_mib} of one file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(HASH_BYTES))
    return {"path": os.path.abspath(path), "size": os.path.getsize(path),
            "sha256_first_mib": digest.hexdigest()}


def _files_named_by(value):
    """Files a flag value names: a file, a folder's files (not recursive), a glob or a comma list."""
    found = []
    for part in str(value).split(","):
        part = part.strip()
        if not part:
            continue
        if os.path.isdir(part):
            found.extend(sorted(os.path.join(part, n) for n in os.listdir(part)
                                if os.path.isfile(os.path.join(part, n))))
        elif os.path.isfile(part):
            found.append(part)
        else:
            found.extend(sorted(p for p in glob.glob(part) if os.path.isfile(p)))
    return found


def data_files(flag_values):
    """{flag: [file_record, ...]} for the input flags that name existing files."""
    records = {}
    for name in INPUT_FLAGS:
        value = flag_values.get(name)
        if not value:
            continue
        files = _files_named_by(value)
        if files:
            records[name] = [file_record(p) for p in files[:MAX_FILES_PER_FLAG]]
            if len(files) > MAX_FILES_PER_FLAG:
                records[name].append({"path": "... %d more files" % (len(files) - MAX_FILES_PER_FLAG)})
    return records


def harness_commit():
    """{commit, dirty} of the repository this code runs from, or None outside a git checkout."""
    try:
        commit = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10)
        if commit.returncode:
            return None
        status = subprocess.run(["git", "-C", REPO_ROOT, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _cann_version():
    """The CANN toolkit version from its version file, when an Ascend toolkit is installed."""
    home = os.environ.get("ASCEND_TOOLKIT_HOME") or "/usr/local/Ascend/ascend-toolkit/latest"
    for name in ("version.cfg", "version.info", "ascend_toolkit_install.info"):
        path = os.path.join(home, name)
        if os.path.isfile(path):
            with open(path) as f:
                for line in f:
                    if "version" in line.lower() and "=" in line:
                        return line.split("=", 1)[1].strip()
    return None


def versions():
    import numpy as np
    import tensorflow.compat.v1 as tf
    from common import npu_compat
    out = {"python": platform.python_version(), "tensorflow": tf.version.VERSION,
           "numpy": np.__version__}
    if npu_compat.HAVE_NPU:
        import npu_bridge
        out["npu_bridge"] = getattr(npu_bridge, "__version__", "installed")
        out["cann"] = _cann_version()
    return out


def flag_values(flags_obj):
    """Every flag an entry point or common/ defined (absl's and TensorFlow's own left out)."""
    if flags_obj is None:
        return {}
    values = {}
    for module, module_flags in flags_obj.flags_by_module_dict().items():
        if module.startswith(("absl.", "tensorflow")):
            continue
        for flag in module_flags:
            value = flag.value
            values[flag.name] = value if isinstance(value, (str, int, float, bool, type(None))) \
                else str(value)
    return dict(sorted(values.items()))


def environment():
    return {k: v for k, v in sorted(os.environ.items()) if ENV_PATTERN.match(k)}


def collect(runtime):
    """The fingerprint of this run (a JSON-able dict) from its npu_runconfig.Runtime."""
    from common import checkpoint_utils, cpu_features
    flags_obj = getattr(runtime, "flags", None)
    values = flag_values(flags_obj)
    device = {"device": getattr(runtime, "device", None), "platform": platform.platform(),
              "cpu": cpu_features.cpu_model_name(), "isa": cpu_features.isa_summary(),
              "onednn": cpu_features.onednn_enabled()}
    if device["device"] == "gpu":
        import tensorflow.compat.v1 as tf
        device["gpu"] = tf.test.gpu_device_name()
    return {
        "harness": harness_commit(),
        "versions": versions(),
        "device": device,
        "precision": {"ran": getattr(runtime, "precision", None),
                      "precision_mode": getattr(runtime, "precision_mode", None),
                      "loss_scale": getattr(runtime, "loss_scale", None)},
        "seed": values.get("seed"),
        "deterministic": values.get("deterministic"),
        "flags": values,
        "environment": environment(),
        "data": data_files(values),
        "checkpoints": checkpoint_utils.loaded_checkpoints(),
        "command": [os.path.basename(sys.argv[0])] + sys.argv[1:],
    }


# --------------------------------------------------------------------------- differences

def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            out.update(_flatten(value, "%s%s." % (prefix, key)))
        return out
    return {prefix[:-1]: obj}


def _data_view(data):
    """Data files keyed by flag and file name, valued by (size, hash): where they live decides
    nothing, what they hold does."""
    view = {}
    for flag, records in (data or {}).items():
        for record in records:
            name = os.path.basename(record.get("path", ""))
            view["%s:%s" % (flag, name)] = (record.get("size"), record.get("sha256_first_mib"))
    return view


def _checkpoint_view(checkpoints):
    return {"checkpoint %d" % i: (os.path.basename(c.get("path", "")), c.get("variables_loaded"))
            for i, c in enumerate(checkpoints or [])}


# Sections in the order a user should rule things out.
SECTIONS = (("precision", "precision"), ("hyper-parameters (flags)", "flags"),
            ("seed", "seed"), ("deterministic", "deterministic"), ("data read", "data"),
            ("initial checkpoint", "checkpoints"), ("versions", "versions"),
            ("device", "device"), ("environment", "environment"), ("harness", "harness"))


def differences(base, test):
    """[(section, key, base value, test value)] where two fingerprints differ, in SECTIONS order.
    Output locations (OUTPUT_FLAGS) and input paths are not differences; data contents are."""
    rows = []
    for section, key in SECTIONS:
        a, b = (base or {}).get(key), (test or {}).get(key)
        if key == "data":
            a, b = _data_view(a), _data_view(b)
        elif key == "checkpoints":
            a, b = _checkpoint_view(a), _checkpoint_view(b)
        elif key == "flags":
            a = {k: v for k, v in (a or {}).items() if k not in OUTPUT_FLAGS + INPUT_FLAGS}
            b = {k: v for k, v in (b or {}).items() if k not in OUTPUT_FLAGS + INPUT_FLAGS}
        fa, fb = _flatten(a) if isinstance(a, dict) else {"": a}, \
            _flatten(b) if isinstance(b, dict) else {"": b}
        for name in sorted(set(fa) | set(fb)):
            if fa.get(name) != fb.get(name):
                rows.append((section, name or key, fa.get(name, "(absent)"), fb.get(name, "(absent)")))
    return rows
