"""Converts a torchvision or timm `resnext50_32x4d` state dict (safetensors) into a TF checkpoint
with this project's variable names, for evaluation or transfer learning.

    python ResNext50/convert_torch_checkpoint.py --source=resnext50_32x4d.safetensors \\
        --output_dir=/data/resnext50_tv [--num_classes=N]

Export the state dict where torch is installed (torch never enters this project), e.g.
    python -c "import torchvision, safetensors.torch as s; s.save_file(torchvision.models.resnext50_32x4d(weights='IMAGENET1K_V2').state_dict(), 'resnext50_32x4d.safetensors')"
    python -c "import timm, safetensors.torch as s; s.save_file(timm.create_model('resnext50_32x4d', pretrained=True).state_dict(), 'resnext50_32x4d.safetensors')"

The file is read with numpy: `safetensors.numpy` where the package is installed (Python >= 3.9),
else a reader of the documented format in this file (8-byte little-endian header length, JSON
header, raw little-endian tensors), so the converter also runs on Ascend's Python 3.7.

Name mapping (torch OIHW conv weights -> HWIO kernels; the grouped conv2 weight [width,
width / groups, 3, 3] becomes [3, 3, width / groups, width], the layout `tf.nn.conv2d` groups by):
    conv1.weight, bn1.*                            -> fp32_vars/stem/conv/kernel, fp32_vars/stem/bn/*
    layerS.B.convK.weight, layerS.B.bnK.*          -> fp32_vars/stageS/blockB/convK/kernel, .../bnK/*
    layerS.B.downsample.0.weight, downsample.1.*   -> .../shortcut_conv/kernel, .../shortcut_bn/*
    BN weight, bias, running_mean, running_var     -> gamma, beta, moving_mean, moving_variance
    fc.weight [N, 2048], fc.bias                   -> fp32_vars/dense/kernel [2048, N], dense/bias
(`num_batches_tracked` is dropped; a `module.` prefix from DataParallel is stripped.)

The architecture is read from the shapes (blocks per stage, widths, groups, expansion, stem
filters) and written as `resnext_config.json` with torchvision's symmetric padding and BN epsilon
1e-5, so `--model_config=<output_dir>/resnext_config.json` computes what torch computes. Both
libraries put the stride of a downsampling block in its 3x3 conv, as this network does (shapes
cannot tell; a state dict with the stride in the first 1x1 conv would convert but compute
something else).

--num_classes: the classifier is written when it has that many classes (default: the source's);
otherwise (transfer learning to a new class count) no head is written and training starts it
fresh (the default --restore_exclude=fp32_vars/dense). Output: model.ckpt-0.{index,data-*}
(global_step 0), `checkpoint`, resnext_config.json; each file written whole or not at all.
"""

import importlib.util
import json
import os
import re
import struct
import sys

import numpy as np
from absl import flags

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run as a script from the repository root
    sys.path.insert(0, REPO_ROOT)

from common import atomic_io, checkpoint_utils, cli  # noqa: E402

FLAGS = flags.FLAGS

CHECKPOINT_NAME = "model.ckpt-0"
CONFIG_NAME = "resnext_config.json"
TORCH_BATCH_NORM_EPSILON = 1e-5
BN_NAMES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
            "running_var": "moving_variance"}
SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
                      "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def read_safetensors_numpy(path):
    """{name: numpy array} of a safetensors file, without the safetensors package.

    Format: u64 little-endian N, N bytes of JSON {name: {"dtype", "shape", "data_offsets":
    [begin, end]}, "__metadata__": {...}}, then the data; offsets count from the data's start.
    BF16 tensors are widened to float32 (numpy has no bfloat16).
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("%s is not a safetensors file (too short)" % path)
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > len(blob) - 8:
        raise ValueError("%s is not a safetensors file (bad header length)" % path)
    try:
        header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    except ValueError:
        raise ValueError("%s is not a safetensors file (its header is not JSON)" % path)
    data = memoryview(blob)[8 + header_len:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[begin:end]
        if entry["dtype"] == "BF16":
            bits = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
            value = bits.view(np.float32)
        elif entry["dtype"] in SAFETENSORS_DTYPES:
            value = np.frombuffer(raw, SAFETENSORS_DTYPES[entry["dtype"]])
        else:
            raise ValueError("%s: tensor %s has dtype %s, which this reader does not know"
                             % (path, name, entry["dtype"]))
        tensors[name] = value.reshape(entry["shape"]).copy()
    return tensors


def load_state_dict(path):
    """{torch name: numpy array} of a safetensors file."""
    if not os.path.isfile(path):
        raise FileNotFoundError("--source=%s does not exist" % path)
    if importlib.util.find_spec("safetensors") is not None:
        from safetensors.numpy import load_file
        try:
            return load_file(path)
        except Exception as exc:  # the package's own error types; say which file
            raise ValueError("--source=%s is not a readable safetensors file: %s"
                             % (path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    return read_safetensors_numpy(path)


def _hwio(weight):
    return np.ascontiguousarray(np.transpose(weight, (2, 3, 1, 0)))


BLOCK = re.compile(r"^layer(\d+)\.(\d+)\.(conv[123]|bn[123]|downsample\.[01])\.(\w+)$")
STEM = re.compile(r"^(conv1|bn1)\.(\w+)$")


def tf_name(torch_name):
    """(project variable name, kind) of a torchvision/timm ResNeXt tensor name; kind is "conv",
    "bn", "fc_weight", "fc_bias" or "skip"; None when the name is not of that layout."""
    if torch_name.endswith("num_batches_tracked"):
        return "", "skip"
    if torch_name == "fc.weight":
        return "fp32_vars/dense/kernel", "fc_weight"
    if torch_name == "fc.bias":
        return "fp32_vars/dense/bias", "fc_bias"
    match = STEM.match(torch_name)
    if match:
        layer, param = match.groups()
        if layer == "conv1":
            return ("fp32_vars/stem/conv/kernel", "conv") if param == "weight" else None
        return ("fp32_vars/stem/bn/" + BN_NAMES[param], "bn") if param in BN_NAMES else None
    match = BLOCK.match(torch_name)
    if not match:
        return None
    stage, block, layer, param = match.groups()
    scope = "fp32_vars/stage%d/block%d/" % (int(stage), int(block))
    if layer.startswith("conv") or layer == "downsample.0":
        if param != "weight":
            return None
        return scope + ("shortcut_conv" if layer == "downsample.0" else layer) + "/kernel", "conv"
    if param not in BN_NAMES:
        return None
    return scope + ("shortcut_bn" if layer == "downsample.1" else layer) + "/" + BN_NAMES[param], "bn"


def infer_config(weights):
    """The ResNextConfig dict of a torchvision-layout state dict, from its shapes."""
    blocks = {}
    for name in weights:
        match = BLOCK.match(name)
        if match:
            stage, block = int(match.group(1)), int(match.group(2))
            blocks[stage] = max(blocks.get(stage, -1), block)
    stages = sorted(blocks)
    if not stages or stages != list(range(1, len(stages) + 1)) or "conv1.weight" not in weights:
        raise ValueError("no ResNeXt layout (conv1.weight, layer1.0.conv1.weight, ...)")
    widths, expansions, groups = [], set(), set()
    for stage in stages:
        key = "layer%d.0.conv2.weight" % stage
        if key not in weights or "layer%d.0.conv3.weight" % stage not in weights:
            raise ValueError("%s or its conv3 is missing" % key)
        width, per_group = weights[key].shape[:2]
        widths.append(int(width))
        groups.add(int(width) // int(per_group))
        expansions.add(int(weights["layer%d.0.conv3.weight" % stage].shape[0]) // int(width))
    if len(groups) != 1 or len(expansions) != 1:
        raise ValueError("stages disagree on groups %s / expansion %s" % (sorted(groups),
                                                                         sorted(expansions)))
    return {"layer_counts": [blocks[s] + 1 for s in stages], "widths": widths,
            "cardinality": groups.pop(), "expansion": expansions.pop(),
            "stem_filters": int(weights["conv1.weight"].shape[0]), "padding": "symmetric",
            "batch_norm_epsilon": TORCH_BATCH_NORM_EPSILON}


def convert_state_dict(weights, num_classes=None, source="the state dict"):
    """(tensors {project name: float32 array}, config dict, source classes, head written?)."""
    state = {}
    for name, value in weights.items():
        state[name[len("module."):] if name.startswith("module.") else name] = value
    unknown = sorted(n for n in state if tf_name(n) is None)
    if unknown:
        raise ValueError("%s is not a torchvision/timm resnext50_32x4d state dict: %d tensor(s) "
                         "of another layout, e.g. %s" % (source, len(unknown), ", ".join(unknown[:4])))
    try:
        config = infer_config(state)
    except ValueError as exc:
        raise ValueError("%s is not a torchvision/timm resnext50_32x4d state dict: %s"
                         % (source, exc))
    source_classes = int(state["fc.weight"].shape[0]) if "fc.weight" in state else None
    num_classes = num_classes or source_classes
    if not num_classes:
        raise ValueError("%s has no classifier (fc.weight): give --num_classes" % source)
    write_head = source_classes == num_classes
    tensors = {}
    for name, value in state.items():
        target, kind = tf_name(name)
        if kind == "skip" or (kind.startswith("fc") and not write_head):
            continue
        value = np.asarray(value, np.float32)
        if kind == "conv":
            value = _hwio(value)
        elif kind == "fc_weight":
            value = np.ascontiguousarray(value.T)
        tensors[target] = value
    from ResNext50 import modeling

    expected = modeling.variable_shapes(modeling.ResNextConfig.from_dict(config), num_classes)
    if not write_head:
        expected = {k: v for k, v in expected.items() if not k.startswith("fp32_vars/dense/")}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = ["%s: %s, the network needs %s" % (k, list(tensors[k].shape), list(expected[k]))
             for k in sorted(set(tensors) & set(expected)) if tuple(tensors[k].shape) != expected[k]]
    if missing or extra or wrong:
        problems = (["missing %s" % ", ".join(missing[:3])] if missing else []) + \
                   (["not in the network: %s" % ", ".join(extra[:3])] if extra else []) + wrong[:3]
        raise ValueError("%s does not fit ResNeXt %s: %s" % (source, config, "; ".join(problems)))
    return tensors, config, source_classes, write_head


def convert(source, output_dir, num_classes=None):
    """Converts the safetensors file `source` into `output_dir`; returns a summary dict."""
    weights = load_state_dict(source)
    tensors, config, source_classes, write_head = convert_state_dict(
        weights, num_classes, "--source=%s" % source)
    import tensorflow.compat.v1 as tf

    if os.path.isdir(output_dir):
        state = tf.train.get_checkpoint_state(output_dir)
        others = [p for p in (state.all_model_checkpoint_paths if state else [])
                  if os.path.basename(p) != CHECKPOINT_NAME]
        if others:
            raise ValueError("--output_dir=%s already holds checkpoints (%s): give a new folder"
                             % (output_dir, os.path.basename(others[-1])))
    tensors = dict(tensors, global_step=np.array(0, np.int64))
    prefix = os.path.join(output_dir, CHECKPOINT_NAME)
    checkpoint_utils.write_checkpoint(prefix, tensors)
    atomic_io.write_json(os.path.join(output_dir, CONFIG_NAME), dict(
        description="converted by ResNext50/convert_torch_checkpoint.py from %s"
        % os.path.basename(source), **config))
    atomic_io.write_text(os.path.join(output_dir, "checkpoint"),
                         'model_checkpoint_path: "%s"\nall_model_checkpoint_paths: "%s"\n'
                         % (CHECKPOINT_NAME, CHECKPOINT_NAME))
    return {"prefix": prefix, "config": config, "num_tensors": len(tensors) - 1,
            "source_classes": source_classes, "head_written": write_head,
            "num_classes": num_classes or source_classes}


def define_flags():
    """Command-line flags (defined only when run as a script, so tests can import this)."""
    flags.DEFINE_string("source", None, "safetensors file of a torchvision/timm resnext50_32x4d "
                        "state dict.")
    flags.DEFINE_string("output_dir", None, "Where model.ckpt-0, checkpoint and "
                        "resnext_config.json go.")
    flags.DEFINE_integer("num_classes", None, "Classes of the run that will use the checkpoint "
                         "(default: the source's); another count writes no classifier.",
                         lower_bound=2)


def run():
    if not FLAGS.source:
        raise ValueError("--source is required: a safetensors file of a resnext50_32x4d state dict")
    if not FLAGS.output_dir:
        raise ValueError("--output_dir is required")
    summary = convert(FLAGS.source, FLAGS.output_dir, FLAGS.num_classes)
    config = summary["config"]
    head = ("classifier of %d classes kept" % summary["source_classes"] if summary["head_written"]
            else "no classifier written (source %s, this run %d classes: training starts a new one)"
            % ("%d classes" % summary["source_classes"] if summary["source_classes"] else "none",
               summary["num_classes"]))
    print("converted %d tensors of %s into %s: ResNeXt %s blocks, widths %s, cardinality %d, "
          "padding %s, BN epsilon %g; %s. Use --model_config=%s"
          % (summary["num_tensors"], FLAGS.source, summary["prefix"], config["layer_counts"],
             config["widths"], config["cardinality"], config["padding"],
             config["batch_norm_epsilon"], head, os.path.join(FLAGS.output_dir, CONFIG_NAME)))


if __name__ == "__main__":
    define_flags()
    cli.run_entry_point(run)
