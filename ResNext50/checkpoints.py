"""Which checkpoints a ResNeXt run reads, whether they fit it, and no half-made one left behind.

* `check_run_checkpoints(...)`: before anything is built or written, every checkpoint the run will
  read fits it, else one UsageError line that names the folder, the classifier's class count
  against the run's, and what to do: the checkpoint in --model_dir (the scripts' --output_path)
  that training would resume, the --restore_path of transfer learning (the head only when
  --restore_exclude does not leave it out), every checkpoint --mode=evaluate reads in --ckpt_dir.
* `train_leaving_no_untrained_checkpoint(...)`: estimator.train (common.multiworker.train with
  several workers off Ascend); when it fails in a folder that
  held no checkpoint, the step-0 checkpoint the Estimator saved before the first step goes too.
"""

import os

import tensorflow.compat.v1 as tf

from common import checkpoint_utils, multiworker
from common.npu_runconfig import UsageError
from ResNext50 import modeling

HEAD_KERNEL = modeling.HEAD_SCOPE + "/kernel"


def is_excluded(name, exclude):
    """True when `name` starts with one of the --restore_exclude prefixes."""
    return any(name.startswith(prefix) for prefix in exclude if prefix)


def kept_checkpoints(folder):
    """Every checkpoint prefix the folder's `checkpoint` file lists, oldest first."""
    state = tf.train.get_checkpoint_state(folder) if folder and os.path.isdir(folder) else None
    paths = list(state.all_model_checkpoint_paths) if state else []
    return [p if os.path.isabs(p) else os.path.join(folder, p) for p in paths]


def check_checkpoint(path, expected, num_classes, where, remedy, model_config, head=True,
                     complete=True):
    """UsageError when checkpoint `path` cannot serve the run: (head) no classifier (unless head
    is "if_present") or one of another class count (`remedy` says what to do), (complete) model
    variables missing, or variables of other shapes than `expected` {name: shape} (another
    --model_config)."""
    shapes = {name: tuple(shape) for name, shape in tf.train.list_variables(path)}
    kernel = shapes.get(HEAD_KERNEL)
    if head == "if_present":
        head = kernel is not None
    if head and kernel is None:
        raise UsageError("%s has no classifier (%s; a converted backbone?): %s"
                         % (where, HEAD_KERNEL, remedy))
    if head and kernel[1] != num_classes:
        raise UsageError("%s has a %d-class head; this run has %d classes: %s"
                         % (where, kernel[1], num_classes, remedy))
    wrong = ["%s: checkpoint %s vs model %s" % (n, list(shapes[n]), list(s))
             for n, s in sorted(expected.items()) if n in shapes and shapes[n] != s
             and not n.startswith(modeling.HEAD_SCOPE + "/")]
    missing = sorted(n for n in expected if n not in shapes) if complete else []
    problems = wrong[:2] + (["lacks %s" % ", ".join(missing[:2])] if missing else [])
    if problems:
        raise UsageError("%s does not fit --model_config=%s: %s"
                         % (where, model_config, "; ".join(problems)))


def check_run_checkpoints(mode, model_dir, ckpt_dir, restore_path, restore_exclude, config,
                          num_classes, model_config):
    """Every checkpoint a run of `mode` reads fits `config` with `num_classes` (see top)."""
    expected = modeling.variable_shapes(config, num_classes)
    if mode == "evaluate":
        ckpt_dir = ckpt_dir or model_dir
        for path in kept_checkpoints(ckpt_dir):
            check_checkpoint(path, expected, num_classes, "--ckpt_dir=%s: %s" % (
                ckpt_dir, os.path.basename(path)), "give the --num_classes (and --model_config) "
                "it was trained with", model_config)
        return
    latest = tf.train.latest_checkpoint(model_dir) if os.path.isdir(model_dir) else None
    if latest:
        if not any(name.endswith("/Momentum") for name, _ in tf.train.list_variables(latest)):
            raise UsageError("--model_dir=%s holds %s without optimizer state (a converted or "
                             "exported checkpoint): give it as --restore_path (the scripts' "
                             "--model_path) and a new --model_dir"
                             % (model_dir, os.path.basename(latest)))
        check_checkpoint(latest, expected, num_classes, "--model_dir=%s (the scripts' "
                         "--output_path) holds %s, which" % (model_dir, os.path.basename(latest)),
                         "training would resume it; use a new --output_path / --model_dir",
                         model_config)
    if restore_path:
        check_checkpoint(checkpoint_utils.resolve_checkpoint(restore_path), expected, num_classes,
                         "--restore_path=%s" % restore_path,
                         "leave --restore_exclude=%s to start a new classifier, or give the "
                         "--num_classes it has" % modeling.HEAD_SCOPE, model_config,
                         head=not is_excluded(HEAD_KERNEL, restore_exclude) and "if_present",
                         complete=False)


def train_leaving_no_untrained_checkpoint(estimator, input_fn, max_steps, model_dir):
    """estimator.train; if it fails in a folder that held no checkpoint, the step-0 checkpoint
    that the Estimator saves before the first step (and its graph and event files) are removed,
    so that a run failing on its first batch (bad labels, bad images) leaves nothing to resume."""
    existed = os.path.isdir(model_dir)
    before = set(os.listdir(model_dir)) if existed else set()
    had_checkpoint = bool(kept_checkpoints(model_dir))
    try:
        multiworker.train(estimator, input_fn, max_steps)
    except BaseException:
        latest = tf.train.latest_checkpoint(model_dir) if os.path.isdir(model_dir) else None
        if not had_checkpoint and latest and checkpoint_utils.checkpoint_step(latest) == 0:
            for name in set(os.listdir(model_dir)) - before:
                if name.startswith((os.path.basename(latest) + ".", "events.out.tfevents.")) \
                        or name in ("checkpoint", "graph.pbtxt"):
                    os.remove(os.path.join(model_dir, name))
            if not existed and not os.listdir(model_dir):
                os.rmdir(model_dir)
        raise
