"""Checkpoint helpers shared by the models: locate, initialise from, and export clean checkpoints.

* `resolve_checkpoint(path)`: a checkpoint prefix, or a directory holding one
  (`bert_model.ckpt`, `model.ckpt-N` via the `checkpoint` file, or a single `*.ckpt*.index`).
* `get_assignment_map_from_checkpoint(tvars, ckpt)`: google-research/bert's function, plus a shape
  check: a variable whose shape differs from the checkpoint's raises one clear ValueError.
* `init_from_checkpoint(ckpt, tvars)`: the above + `tf.train.init_from_checkpoint`, logging which
  variables were loaded and which start from their initializer.
* `training_start_line(output_dir, max_steps, init_checkpoint)`: "resuming from step 20 in OUT; 20
  steps to go", "training N steps from CKPT" or "... from randomly initialised weights"; an
  output_dir already at max_steps is a one-line error (nothing to train).
* `export_clean_checkpoint(src, dst_prefix, keep)`: rewrites a training checkpoint with only the
  model variables (+ global_step): no optimizer slots, no loss-scale state, which third-party
  converters choke on. Files are written under a temporary name and renamed into place.
"""

import collections
import glob
import os
import re
import shutil
import tempfile

import tensorflow.compat.v1 as tf

# The checkpoints this process initialised from (for the run fingerprint, common/fingerprint.py).
_LOADED = collections.OrderedDict()


def loaded_checkpoints():
    """[{path, variables_loaded, variables_in_model}] of every init_from_checkpoint so far, and
    [{path, resumed_at_step}] of a resumed run (training_start_line)."""
    return list(_LOADED.values())


def resolve_checkpoint(path):
    """Returns a checkpoint prefix for `path` (a prefix or a directory), or raises FileNotFoundError."""
    if not path:
        raise FileNotFoundError("no checkpoint path given")
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return latest
        for name in ("bert_model.ckpt", "model.ckpt", "albert_model.ckpt", "xlnet_model.ckpt"):
            if os.path.exists(os.path.join(path, name + ".index")):
                return os.path.join(path, name)
        indexes = sorted(glob.glob(os.path.join(path, "*.index")))
        if len(indexes) == 1:
            return indexes[0][:-len(".index")]
        raise FileNotFoundError("no checkpoint (*.index) found in directory %s" % path)
    if os.path.exists(path + ".index"):
        return path
    if path.endswith(".index") and os.path.exists(path):
        return path[:-len(".index")]
    raise FileNotFoundError("checkpoint not found: %s (expected %s.index)" % (path, path))


def checkpoint_step(path):
    """The global step of a checkpoint prefix `.../model.ckpt-N`, or None."""
    match = re.search(r"-(\d+)$", path or "")
    return int(match.group(1)) if match else None


def training_start_line(output_dir, max_steps, init_checkpoint=None):
    """One line saying what training will do in `output_dir`; raises ValueError when there is
    nothing to train (the checkpoint there is already at `max_steps`).

    A checkpoint in output_dir is resumed (Estimator does so whatever else is asked, and an
    --init_checkpoint is then not read); otherwise training starts from init_checkpoint or from
    randomly initialised weights.
    """
    latest = tf.train.latest_checkpoint(output_dir) if os.path.isdir(output_dir) else None
    step = checkpoint_step(latest)
    if latest and step is not None:
        if step >= max_steps:
            raise ValueError("already at step %d in %s (training to step %d): nothing to train; "
                             "that run's checkpoints are there. Give a new --output_path or more "
                             "--train_steps" % (step, output_dir, max_steps))
        _LOADED[latest] = {"path": os.path.abspath(latest), "resumed_at_step": step}
        return ("resuming from step %d in %s; %d steps to go%s" % (
            step, output_dir, max_steps - step,
            " (--init_checkpoint is not read when resuming)" if init_checkpoint else ""))
    if init_checkpoint:
        return "training %d steps from %s" % (max_steps, init_checkpoint)
    return "training %d steps from randomly initialised weights (no initial checkpoint)" % max_steps


def _variable_name(var):
    match = re.match(r"^(.*):\d+$", var.name)
    return match.group(1) if match else var.name


def get_assignment_map_from_checkpoint(tvars, init_checkpoint):
    """Maps checkpoint variable names onto the graph variables of the same name.

    Args:
      tvars: list of graph variables.
      init_checkpoint: checkpoint prefix.
    Returns:
      (assignment_map {ckpt name: graph name} as an OrderedDict,
       initialized_variable_names {name: 1, name + ":0": 1}).
    Raises:
      ValueError: some variable exists in both with different shapes (all are listed).
    """
    name_to_variable = collections.OrderedDict((_variable_name(v), v) for v in tvars)
    assignment_map = collections.OrderedDict()
    initialized_variable_names = {}
    mismatches = []
    for name, shape in tf.train.list_variables(init_checkpoint):
        if name not in name_to_variable:
            continue
        graph_shape = name_to_variable[name].shape.as_list()
        if list(shape) != graph_shape:
            mismatches.append("%s: checkpoint %s vs model %s" % (name, list(shape), graph_shape))
            continue
        assignment_map[name] = name
        initialized_variable_names[name] = 1
        initialized_variable_names[name + ":0"] = 1
    if mismatches:
        raise ValueError("checkpoint %s does not fit the model config (%d shape mismatch(es)): %s"
                         % (init_checkpoint, len(mismatches), "; ".join(mismatches)))
    return assignment_map, initialized_variable_names


def init_from_checkpoint(init_checkpoint, tvars=None, log=True):
    """Initialises the graph's variables that exist in `init_checkpoint` from it.

    Logs one line per variable ("INIT_FROM_CKPT" or "from initializer") like the original
    run_*.py, and a summary line. Returns initialized_variable_names.
    """
    tvars = tvars if tvars is not None else tf.trainable_variables()
    init_checkpoint = resolve_checkpoint(init_checkpoint)
    assignment_map, initialized = get_assignment_map_from_checkpoint(tvars, init_checkpoint)
    tf.train.init_from_checkpoint(init_checkpoint, assignment_map)
    _LOADED[init_checkpoint] = {"path": os.path.abspath(init_checkpoint),
                                "variables_loaded": len(assignment_map),
                                "variables_in_model": len(tvars)}
    if log:
        fresh = []
        for var in tvars:
            if var.name in initialized:
                tf.logging.info("  name = %s, shape = %s, *INIT_FROM_CKPT*", var.name, var.shape)
            else:
                fresh.append(var.name)
                tf.logging.info("  name = %s, shape = %s, from initializer", var.name, var.shape)
        tf.logging.info("init_from_checkpoint %s: loaded %d of %d variables; from initializer: %s",
                        init_checkpoint, len(tvars) - len(fresh), len(tvars),
                        ", ".join(fresh) if fresh else "none")
    return initialized


def write_checkpoint(dst_prefix, tensors):
    """Writes {name: numpy array} as a TF checkpoint `dst_prefix` (.index + .data).

    The files are written in a temporary folder beside the target and renamed into place (data
    first, index last), so a reader never sees a half-written checkpoint.
    """
    out_dir = os.path.dirname(os.path.abspath(dst_prefix))
    os.makedirs(out_dir, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".ckpt_", dir=out_dir)
    try:
        graph = tf.Graph()
        with graph.as_default():
            variables, feeds, assigns = [], {}, []
            for name in sorted(tensors):
                value = tensors[name]
                var = tf.get_variable(name, shape=value.shape, dtype=tf.as_dtype(value.dtype),
                                      initializer=tf.zeros_initializer(), trainable=False)
                holder = tf.placeholder(tf.as_dtype(value.dtype), shape=value.shape)
                assigns.append(tf.assign(var, holder))
                feeds[holder] = value
                variables.append(var)
            saver = tf.train.Saver(variables, write_version=tf.train.SaverDef.V2)
            tmp_prefix = os.path.join(tmp_dir, os.path.basename(dst_prefix))
            with tf.Session(graph=graph) as sess:
                sess.run(assigns, feed_dict=feeds)
                saver.save(sess, tmp_prefix, write_meta_graph=False, write_state=False)
        written = sorted(glob.glob(tmp_prefix + ".*"), key=lambda p: p.endswith(".index"))
        for path in written:  # data shards first, the index last
            os.replace(path, os.path.join(out_dir, os.path.basename(path)))
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return dst_prefix


def export_clean_checkpoint(src, dst_prefix, keep):
    """Writes the variables of checkpoint `src` accepted by `keep(name)` (+ global_step) to `dst_prefix`.

    Args:
      src: checkpoint prefix or directory.
      dst_prefix: output prefix, e.g. out/bert_model.ckpt (directory created if needed).
      keep: predicate on a variable name.
    Returns:
      list of (name, shape) written, sorted by name.
    """
    src = resolve_checkpoint(src)
    reader = tf.train.load_checkpoint(src)
    shapes = reader.get_variable_to_shape_map()
    names = sorted(n for n in shapes if n == "global_step" or keep(n))
    if not [n for n in names if n != "global_step"]:
        raise ValueError("checkpoint %s holds no model variables to export" % src)
    write_checkpoint(dst_prefix, {name: reader.get_tensor(name) for name in names})
    return [(n, shapes[n]) for n in names]
