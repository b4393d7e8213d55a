"""Tensor dumps off Ascend, through TensorFlow's own debugger (tfdbg): `--data_dump_flag` and `--over_dump`.

On Ascend, DumpConfig dumps on the device (common/npu_runconfig.py). Elsewhere the step hook
(common/hooks.py) asks this module for the RunOptions of each step: for a step named by
`--data_dump_step` (global steps, Ascend's syntax `0|5|10`, ranges `3-5`) it watches the graph's
floating-point tensors with tfdbg's `DebugIdentity` op, so TensorFlow itself writes every watched
tensor as the step executes them (forward activations, gradients, optimizer updates). After the
step the raw tfdbg folder is converted into

    <output dir>/data_dump/step_<N>/index.json     op, output slot, op type, dtype, shape, NaN/Inf
                                                   counts, execution order, the dumped float
                                                   tensors it reads (op:slot, from the graph,
                                                   through undumped nodes), file of each tensor
    <output dir>/data_dump/step_<N>/<order>__<op>__<slot>.npy

(bfloat16 / float16 values are stored as float32 .npy; the index keeps the dtype that ran).
`common.compare_tensors` compares two such folders. Which tensors:
  * `--data_dump_mode=output` (default) the outputs of the ops matched by `--data_dump_filter`
    (a regex searched in op names; default all ops); `input` the tensors those ops read; `all` both;
  * only floating-point tensors (ints are shapes and indices), never variable handles.

`--over_dump` watches every step the same way into a scratch folder and keeps a step only when
some watched tensor is NaN/Inf (the steps loss scaling skips): it then writes
`<output dir>/over_dump/step_<N>/` with the non-finite tensors and the inputs of the op where the
first one arose (an op whose output is non-finite while its inputs are finite; the earliest in
execution order), and the recorder reports that op. Watching every step is slow (each tensor goes
through the file system): it is a debugging mode, not a benchmark one.
"""
import os
import re
import shutil

import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.python.debug.lib import debug_data, debug_utils

from common import atomic_io

DUMP_MODES = ("output", "input", "all")
FLOAT_DTYPES = (tf.float16, tf.bfloat16, tf.float32, tf.float64)
# Ops whose outputs are not tensors worth comparing (variables themselves, their reads are;
# constants, which a step does not compute).
_SKIPPED_OP_TYPES = ("VariableV2", "Variable", "VarHandleOp", "Placeholder", "NoOp", "Assert",
                     "Const")
MAX_NAME = 150


def _file_name(order, op_name, slot):
    name = op_name.replace("/", ".")
    if len(name) > MAX_NAME:
        name = name[:MAX_NAME - 9] + "~%08x" % (hash(op_name) & 0xFFFFFFFF)
    return "%05d__%s__%d.npy" % (order, name, slot)


def watched_tensors(graph, mode="output", name_filter=None):
    """[(op name, output slot)] to watch: float tensors of the matched ops (mode output), the
    float tensors they read (input), or both (all); in graph order, without repeats."""
    if mode not in DUMP_MODES:
        raise ValueError("--data_dump_mode must be one of %s, got %r" % ("|".join(DUMP_MODES), mode))
    pattern = re.compile(name_filter) if name_filter else None
    chosen, seen = [], set()

    def add(tensor):
        key = (tensor.op.name, tensor.value_index)
        if key in seen or tensor.op.type in _SKIPPED_OP_TYPES:
            return
        if tensor.dtype != tensor.dtype.base_dtype or tensor.dtype not in FLOAT_DTYPES:
            return
        seen.add(key)
        chosen.append(key)

    for op in graph.get_operations():
        if pattern is not None and not pattern.search(op.name):
            continue
        if mode in ("output", "all"):
            for tensor in op.outputs:
                add(tensor)
        if mode in ("input", "all"):
            for tensor in op.inputs:
                add(tensor)
    return chosen


def watch_options(tensors, raw_dir):
    """RunOptions that make TensorFlow write `tensors` [(op, slot)] into raw_dir (tfdbg file://)."""
    options = tf.RunOptions()
    url = "file://" + raw_dir
    for op_name, slot in tensors:
        debug_utils.add_debug_tensor_watch(options, op_name, slot, debug_ops=["DebugIdentity"],
                                           debug_urls=[url])
    return options


def _as_array(value):
    """A dumped value as a numpy array: bfloat16 / float16 widened to float32 for .npy."""
    array = np.asarray(value)
    if array.dtype.kind == "V" or array.dtype.name == "bfloat16":
        array = array.astype(np.float32)
    elif array.dtype == np.float16:
        array = array.astype(np.float32)
    return array


def _dumped_inputs(op, dumped, depth=6):
    """"op:slot" of the dumped float tensors `op` reads, looking through the tensors that were not
    dumped (identities, nodes the graph optimiser folded away) to what they read."""
    found = []
    for tensor in op.inputs:
        if tensor.dtype.base_dtype not in FLOAT_DTYPES:
            continue
        name = "%s:%d" % (tensor.op.name, tensor.value_index)
        if name in dumped:
            found.append(name)
        elif depth > 0:
            found.extend(n for n in _dumped_inputs(tensor.op, dumped, depth - 1) if n not in found)
    return found


def read_raw_dump(raw_dir, graph=None):
    """The tensors tfdbg wrote, in execution order: [dict(op, slot, op_type, dtype, array, ...)]."""
    dump = debug_data.DebugDumpDir(raw_dir, validate=False)
    records = []
    dumped = {"%s:%d" % (d.node_name, d.output_slot) for d in dump.dumped_tensor_data}
    for datum in sorted(dump.dumped_tensor_data, key=lambda d: (d.timestamp, d.node_name)):
        value = datum.get_tensor()
        if value is None or not hasattr(value, "dtype"):
            continue
        dtype = np.asarray(value).dtype.name
        op_type, inputs = "", []
        if graph is not None:
            try:
                op = graph.get_operation_by_name(datum.node_name)
                op_type = op.type
                inputs = _dumped_inputs(op, dumped)
            except KeyError:    # a node grappler added (e.g. a mixed-precision cast)
                pass
        array = _as_array(value)
        records.append({"op": datum.node_name, "slot": datum.output_slot, "op_type": op_type,
                        "dtype": dtype, "shape": list(array.shape), "array": array,
                        "inputs": inputs, "timestamp_us": datum.timestamp})
    return records


def _nonfinite_counts(array):
    if array.dtype.kind != "f":
        return 0, 0
    return int(np.isnan(array).sum()), int(np.isinf(array).sum())


def write_dump(records, out_dir, meta):
    """Writes records as .npy files + index.json into out_dir, via a temporary folder renamed into
    place (a half-written dump never looks complete). Returns out_dir."""
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = out_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    index = []
    for order, record in enumerate(records):
        name = _file_name(order, record["op"], record["slot"])
        np.save(os.path.join(tmp, name), record["array"])
        nan, inf = _nonfinite_counts(record["array"])
        entry = {k: v for k, v in record.items() if k != "array"}
        entry.update(order=order, file=name, nan=nan, inf=inf)
        index.append(entry)
    atomic_io.write_json(os.path.join(tmp, "index.json"), dict(meta, tensors=index))
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.rename(tmp, out_dir)
    return out_dir


def first_nonfinite_origin(records, graph):
    """The record of the first op (execution order) whose output is NaN/Inf while every watched
    float input is finite: where the overflow arose, not where it spread. None if all finite."""
    bad = {(r["op"], r["slot"]) for r in records if _nonfinite_counts(r["array"]) != (0, 0)}
    if not bad:
        return None
    for record in records:
        if (record["op"], record["slot"]) not in bad:
            continue
        try:
            inputs = graph.get_operation_by_name(record["op"]).inputs
        except KeyError:
            inputs = []
        if not any((t.op.name, t.value_index) in bad for t in inputs):
            return record
    return next(r for r in records if (r["op"], r["slot"]) in bad)


class TensorDumper:
    """Per-step RunOptions and dump conversion for the step hook (common/hooks.py).

    Args:
      root: the run's output folder (dumps go to root/data_dump, root/over_dump).
      steps: global steps to dump (--data_dump_step), or () for none.
      mode: output | input | all (--data_dump_mode).
      name_filter: regex searched in op names (--data_dump_filter), None for all ops.
      over_dump: watch every step, keep only steps with NaN/Inf (--over_dump).
      precision: what ran (recorded in each index).
    """

    def __init__(self, root, steps=(), mode="output", name_filter=None, over_dump=False,
                 precision=None):
        self.root = root
        self.steps = set(steps)
        self.mode = mode
        self.name_filter = name_filter
        self.over_dump = over_dump
        self.precision = precision
        self._tensors = None
        self._graph = None
        self._raw = None
        # Paths are relative to the output folder (the delivery scripts move it when the run ends).
        self.dumped = []           # folders written, "data_dump/step_N"
        self.overflows = []        # [{"step", "op", "op_type", "slot", "nonfinite_tensors", "dump"}]

    def run_options(self, step, graph):
        """RunOptions watching this step's tensors, or None when the step is not dumped."""
        if step not in self.steps and not self.over_dump:
            return None
        if self._tensors is None or graph is not self._graph:
            self._graph = graph
            self._tensors = watched_tensors(graph, self.mode if not self.over_dump else "output",
                                            self.name_filter)
        self._raw = os.path.join(self.root, ".tfdbg_step_%d" % step)
        shutil.rmtree(self._raw, ignore_errors=True)
        return watch_options(self._tensors, self._raw)

    def collect(self, step, overflow=None):
        """After the step: convert (data dump) or inspect and keep / drop (overflow dump).

        overflow: the loss-scale optimizer's flag for this step, None without loss scaling. With
        the flag, only the steps it marks are kept (an Inf in a branch the step did not use is no
        overflow); without it, any step with a NaN/Inf tensor is."""
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            if not os.path.isdir(raw):
                return
            records = read_raw_dump(raw, self._graph)
            meta = {"step": step, "mode": self.mode, "filter": self.name_filter,
                    "precision": self.precision, "source": "tfdbg DebugIdentity"}
            if step in self.steps and not self.over_dump:
                write_dump(records, os.path.join(self.root, "data_dump", "step_%d" % step), meta)
                self.dumped.append("data_dump/step_%d" % step)
                print("data_dump: step %d: %d tensors in %s of the output folder" % (
                    step, len(records), self.dumped[-1]), flush=True)
            if self.over_dump and overflow is not False:
                self._inspect_overflow(step, records, meta)
        finally:
            shutil.rmtree(raw, ignore_errors=True)

    def _inspect_overflow(self, step, records, meta):
        origin = first_nonfinite_origin(records, self._graph)
        if origin is None:
            return
        bad = [r for r in records if _nonfinite_counts(r["array"]) != (0, 0)]
        try:
            inputs = {(t.op.name, t.value_index)
                      for t in self._graph.get_operation_by_name(origin["op"]).inputs}
        except KeyError:
            inputs = set()
        kept = [r for r in records if r in bad or (r["op"], r["slot"]) in inputs]
        meta = dict(meta, first_nonfinite={"op": origin["op"], "slot": origin["slot"],
                                           "op_type": origin["op_type"]},
                    nonfinite_ops=[r["op"] for r in bad])
        write_dump(kept, os.path.join(self.root, "over_dump", "step_%d" % step), meta)
        path = "over_dump/step_%d" % step
        self.overflows.append({"step": step, "op": origin["op"], "slot": origin["slot"],
                               "op_type": origin["op_type"], "nonfinite_tensors": len(bad),
                               "dump": path})
        print("over_dump: step %d: first non-finite output at %s:%d (%s), %d non-finite "
              "tensor(s); %s of the output folder" % (step, origin["op"], origin["slot"],
                                                       origin["op_type"] or "?", len(bad), path),
              flush=True)

    @property
    def dumped_steps(self):
        return [int(d.rsplit("_", 1)[1]) for d in self.dumped]

    def summary(self):
        """For the results JSON."""
        out = {"data_dumps": self.dumped}
        if self.over_dump:
            out["overflow_dumps"] = self.overflows
        return out
