# coding=utf-8
"""XLNet's training step (zihangdai/xlnet model_utils.get_train_op) on common/optimization:
linear warmup to learning_rate over warmup_steps, then polynomial ("poly") or cosine ("cos")
decay over the remaining steps down to learning_rate * min_lr_ratio; Adam (weight_decay = 0, as
the original's tf.train.AdamOptimizer) or Adam with decoupled weight decay; gradients clipped to a
global norm, then layer l of n scaled by lr_layer_decay_rate ** (n - 1 - l). Also the original's
step line `[step] | gnorm X lr X | loss X | pplx X, bpc X`, which common/loss_log.py reads."""

import math
import re

import tensorflow.compat.v1 as tf

from common import optimization

_LAYER_RE = re.compile(r"model/transformer/layer_(\d+)/")


def define_training_flags(train_steps, learning_rate, min_lr_ratio):
    """The original's training flags shared by run_classifier.py and run_pretraining.py (their
    defaults differ: fine-tuning 1000 steps at 1e-5 to 0, pretraining 100000 at 1e-4 to 0.001)."""
    from absl import flags
    flags.DEFINE_integer("train_steps", train_steps, "Training steps.")
    flags.DEFINE_integer("warmup_steps", 0, "Linear warmup steps.")
    flags.DEFINE_float("learning_rate", learning_rate, "Peak learning rate.")
    flags.DEFINE_enum("decay_method", "poly", ["poly", "cos"], "Decay after warmup.")
    flags.DEFINE_float("min_lr_ratio", min_lr_ratio, "Final learning rate / peak.")
    flags.DEFINE_float("weight_decay", 0.0, "Decoupled weight decay (0: plain Adam, as the "
                       "original).")
    flags.DEFINE_float("adam_epsilon", 1e-8, "Adam epsilon.")
    flags.DEFINE_float("clip", 1.0, "Gradient clipping global norm.")
    flags.DEFINE_float("dropout", 0.1, "Dropout rate.")
    flags.DEFINE_float("dropatt", 0.1, "Attention dropout rate.")
    flags.DEFINE_integer("clamp_len", -1, "Clamp relative distances (-1: no clamping).")
    flags.DEFINE_enum("init", "normal", ["normal", "uniform"], "Initializer of new variables.")
    flags.DEFINE_float("init_std", 0.02, "Normal initializer stddev.")
    flags.DEFINE_float("init_range", 0.1, "Uniform initializer range.")


def learning_rate_schedule(global_step, learning_rate, train_steps, warmup_steps=0,
                           decay_method="poly", min_lr_ratio=0.0):
    step = tf.cast(global_step, tf.float32)
    decay_steps = max(train_steps - warmup_steps, 1)
    after = tf.maximum(step - warmup_steps, 0.0)
    if decay_method == "poly":
        frac = tf.minimum(after / decay_steps, 1.0)
        end = learning_rate * min_lr_ratio
        decay_lr = (learning_rate - end) * (1.0 - frac) + end
    elif decay_method == "cos":
        frac = tf.minimum(after / decay_steps, 1.0)
        cosine = 0.5 * (1.0 + tf.cos(math.pi * frac))
        decay_lr = learning_rate * ((1.0 - min_lr_ratio) * cosine + min_lr_ratio)
    else:
        raise ValueError("--decay_method must be poly or cos, got %r" % decay_method)
    if warmup_steps <= 0:
        return decay_lr
    warmup_lr = step / float(warmup_steps) * learning_rate
    return tf.where(step < warmup_steps, warmup_lr, decay_lr)


def layer_decay_multiplier(variable_names, rate):
    """name -> rate ** (n_layer - 1 - layer) for model/transformer/layer_<l>/ variables, else 1."""
    layers = [int(m.group(1)) for m in map(_LAYER_RE.search, variable_names) if m]
    n_layer = max(layers) + 1 if layers else 0

    def multiplier(name):
        m = _LAYER_RE.search(name + "/")
        return rate ** (n_layer - 1 - int(m.group(1))) if m and rate != 1.0 else 1.0
    return multiplier


def get_train_op(loss, learning_rate, train_steps, warmup_steps=0, decay_method="poly",
                 min_lr_ratio=0.0, weight_decay=0.0, adam_epsilon=1e-8, clip=1.0,
                 lr_layer_decay_rate=1.0, loss_scale=None):
    """Returns (train_op, tensors {lr, gnorm, loss_scale?, overflow?})."""
    global_step = tf.train.get_or_create_global_step()
    lr = learning_rate_schedule(global_step, learning_rate, train_steps, warmup_steps,
                                decay_method, min_lr_ratio)
    if weight_decay == 0:
        optimizer = tf.train.AdamOptimizer(learning_rate=lr, epsilon=adam_epsilon)
    else:
        optimizer = optimization.AdamWeightDecayOptimizer(
            lr, weight_decay_rate=weight_decay, epsilon=adam_epsilon,
            exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"])
    names = [v.op.name for v in tf.trainable_variables()]
    train_op, tensors = optimization.create_train_op(
        loss, optimizer, global_step, clip_norm=clip, loss_scale=loss_scale,
        grad_multiplier=layer_decay_multiplier(names, lr_layer_decay_rate))
    tensors["lr"] = lr
    return train_op, tensors


def get_train_op_from_flags(loss, flags_obj, lr_layer_decay_rate=1.0):
    """get_train_op with the flags of define_training_flags (and the shared --loss_scale)."""
    f = flags_obj
    return get_train_op(loss, f.learning_rate, f.train_steps, f.warmup_steps, f.decay_method,
                        f.min_lr_ratio, f.weight_decay, f.adam_epsilon, f.clip,
                        lr_layer_decay_rate, loss_scale=f.loss_scale)


def step_line(record):
    """The original's train_gpu.py line, with examples/sec appended."""
    loss = record["loss"]
    pplx = math.exp(min(loss, 700.0))
    line = "[%d] | gnorm %.2f lr %8.6f | loss %.6f | pplx %7.2f, bpc %7.4f" % (
        record["step"], record.get("gnorm", float("nan")), record.get("lr", 0.0), loss, pplx,
        loss / math.log(2))
    if "loss_scale" in record:
        line += " | loss_scale %g" % record["loss_scale"]
    if record.get("overflow"):
        line += " overflow"
    if record.get("examples_per_sec") is not None:
        line += " | examples/sec %.2f" % record["examples_per_sec"]
    return line
