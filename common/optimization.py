"""Optimizers, learning-rate schedules and the train op shared by the four models.

  * AdamWeightDecayOptimizer - google-research/bert's Adam with decoupled weight decay: no bias
    correction, epsilon 1e-6, decay skipped for variables matching LayerNorm / layer_norm / bias.
  * LAMBOptimizer - ALBERT's LAMB: the same Adam moments (no bias correction), then the update is
    multiplied by the trust ratio ||w|| / ||update|| (1 where either norm is 0).
  * tf.train.MomentumOptimizer for ResNeXt.
Slots are named `<variable>/adam_m` and `<variable>/adam_v`, as in the original checkpoints.
Schedules: linear warmup followed by polynomial decay (BERT, ALBERT, XLNet) or cosine decay (ResNeXt).
"""
import math
import os
import re

import tensorflow.compat.v1 as tf

from common.npu_compat import (HAVE_NPU, ExponentialUpdateLossScaleManager,
                               FixedLossScaleManager, NPUDistributedOptimizer,
                               NPULossScaleOptimizer)

DEFAULT_DECAY_EXCLUSIONS = ("LayerNorm", "layer_norm", "bias")


def _matches_any(name, patterns):
    return any(re.search(p, name) for p in patterns or ())


class _AdamMomentsOptimizer(tf.train.Optimizer):
    """Adam moments without bias correction, decoupled weight decay; subclasses scale the step."""

    def __init__(self, learning_rate, weight_decay_rate=0.0, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-6, exclude_from_weight_decay=None, name="AdamWeightDecayOptimizer"):
        super().__init__(use_locking=False, name=name)
        self.learning_rate = learning_rate
        self.weight_decay_rate = weight_decay_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.exclude_from_weight_decay = exclude_from_weight_decay

    def _create_slots(self, var_list):
        for var in var_list:
            self._zeros_slot(var, "m", "adam_m")
            self._zeros_slot(var, "v", "adam_v")

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        # Embedding gradients arrive as IndexedSlices; the update touches every row anyway
        # (moments decay everywhere), so apply it densely as the original does.
        dense = [(tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g, v)
                 for g, v in grads_and_vars]
        return super().apply_gradients(dense, global_step=global_step, name=name)

    def _trust_ratio(self, param, update, param_name):
        del param, update, param_name
        return 1.0

    def _update(self, grad, var):
        name = var.op.name
        m = self.get_slot(var, "m")
        v = self.get_slot(var, "v")
        grad = tf.cast(grad, var.dtype.base_dtype)
        next_m = self.beta_1 * m + (1.0 - self.beta_1) * grad
        next_v = self.beta_2 * v + (1.0 - self.beta_2) * tf.square(grad)
        update = next_m / (tf.sqrt(next_v) + self.epsilon)
        if self.weight_decay_rate and not _matches_any(name, self.exclude_from_weight_decay):
            update += self.weight_decay_rate * var
        lr = tf.cast(self.learning_rate, var.dtype.base_dtype)
        next_param = var - self._trust_ratio(var, update, name) * lr * update
        return tf.group(var.assign(next_param), m.assign(next_m), v.assign(next_v))

    def _step(self, grad, var, resource):
        """One variable's update; `resource`: a resource variable (else a TF 1.15 reference one)."""
        del resource
        return self._update(grad, var)

    def _apply_dense(self, grad, var):
        return self._step(grad, var, resource=False)

    def _resource_apply_dense(self, grad, handle):
        return self._step(grad, handle, resource=True)

    def _apply_sparse(self, grad, var):
        raise NotImplementedError("sparse gradients are densified in apply_gradients")


class AdamWeightDecayOptimizer(_AdamMomentsOptimizer):
    """BERT's optimizer (see module docstring).

    fused=True (the default) runs each variable's step as TensorFlow's fused Adam kernel
    (ApplyAdam, one pass over the parameter) instead of a dozen element-wise ops that each pass
    over it: BERT-base's step on a 2-core Intel Xeon fell from 3097 to 2597 ms (bench/README.md).
    With beta powers of 0 the kernel's bias correction is 1, so it computes the original's
    m, v and lr * m / (sqrt(v) + epsilon); the decoupled decay lr * rate * param is applied to the
    old param just before it. One difference: the kernel forms 1 - beta_2 in float32, 0.99998713e-3
    where the original multiplies by 0.001, so v is 1.3e-5 (relative) smaller and each step up to
    6.5e-6 (relative) longer (test/test_optimization.py bounds it). fused=False is the original's
    op-by-op formula.
    """

    def __init__(self, learning_rate, weight_decay_rate=0.0, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-6, exclude_from_weight_decay=None, name="AdamWeightDecayOptimizer",
                 fused=True):
        super().__init__(learning_rate, weight_decay_rate, beta_1, beta_2, epsilon,
                         exclude_from_weight_decay, name)
        self.fused = fused

    def _prepare(self):
        # The kernel's scalar inputs, once per apply_gradients (not once per variable).
        self._kernel_scalars = {
            "lr": tf.convert_to_tensor(self.learning_rate, tf.float32),
            "decay_rate": tf.convert_to_tensor(self.learning_rate * self.weight_decay_rate,
                                               tf.float32),
            "beta1": tf.constant(self.beta_1, tf.float32),
            "beta2": tf.constant(self.beta_2, tf.float32),
            "epsilon": tf.constant(self.epsilon, tf.float32),
            "zero": tf.constant(0.0, tf.float32)}

    def _step(self, grad, var, resource):
        if not self.fused:
            return self._update(grad, var)
        dtype = var.dtype.base_dtype
        k = {name: tf.cast(t, dtype) for name, t in self._kernel_scalars.items()}
        handle = (lambda x: x.handle) if resource else (lambda x: x)
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        grad = tf.cast(grad, dtype)
        decay = []
        if self.weight_decay_rate and not _matches_any(var.op.name, self.exclude_from_weight_decay):
            apply_decay = (tf.raw_ops.ResourceApplyGradientDescent if resource
                           else tf.raw_ops.ApplyGradientDescent)
            # Not before the gradient exists: the decay needs no gradient, and an in-place write
            # while the step still reads the weights would change a reference variable under the
            # forward and backward pass (TF 1.15's default variables have no copy-on-write).
            with tf.control_dependencies([grad]):
                decay = [apply_decay(var=handle(var), alpha=k["decay_rate"],
                                     delta=tf.identity(var), use_locking=False)]
        apply_adam = tf.raw_ops.ResourceApplyAdam if resource else tf.raw_ops.ApplyAdam
        with tf.control_dependencies(decay):
            return apply_adam(var=handle(var), m=handle(m), v=handle(v), beta1_power=k["zero"],
                              beta2_power=k["zero"], lr=k["lr"], beta1=k["beta1"],
                              beta2=k["beta2"], epsilon=k["epsilon"], grad=grad,
                              use_locking=False)


class LAMBOptimizer(_AdamMomentsOptimizer):
    """ALBERT's LAMB: layer-wise trust ratio ||w|| / ||update|| on top of the Adam step."""

    def __init__(self, learning_rate, weight_decay_rate=0.0, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-6, exclude_from_weight_decay=None, exclude_from_layer_adaptation=None,
                 name="LAMBOptimizer"):
        super().__init__(learning_rate, weight_decay_rate, beta_1, beta_2, epsilon,
                         exclude_from_weight_decay, name)
        # ALBERT: when no separate list is given, layer adaptation uses the weight-decay exclusions.
        self.exclude_from_layer_adaptation = (exclude_from_layer_adaptation
                                              if exclude_from_layer_adaptation is not None
                                              else exclude_from_weight_decay)

    def _trust_ratio(self, param, update, param_name):
        if _matches_any(param_name, self.exclude_from_layer_adaptation):
            return 1.0
        w_norm = tf.norm(param, ord=2)
        u_norm = tf.norm(update, ord=2)
        safe = tf.logical_and(w_norm > 0, u_norm > 0)
        return tf.where(safe, w_norm / tf.where(safe, u_norm, tf.ones_like(u_norm)), 1.0)


def warmup_polynomial_decay(init_lr, global_step, num_train_steps, num_warmup_steps=0,
                            end_lr=0.0, power=1.0):
    """BERT's schedule: linear warmup to init_lr, then polynomial decay to end_lr at num_train_steps."""
    step = tf.cast(global_step, tf.float32)
    decayed = tf.train.polynomial_decay(init_lr, global_step, num_train_steps,
                                        end_learning_rate=end_lr, power=power, cycle=False)
    if not num_warmup_steps:
        return decayed
    warmup = init_lr * step / float(num_warmup_steps)
    return tf.where(step < num_warmup_steps, warmup, decayed)


def warmup_cosine_decay(max_lr, global_step, total_steps, warmup_steps=0, end_lr=0.0):
    """Linear warmup 0 -> max_lr over warmup_steps, then cosine from max_lr down to end_lr."""
    step = tf.cast(global_step, tf.float32)
    decay_steps = float(max(total_steps - warmup_steps, 1))
    progress = tf.clip_by_value((step - warmup_steps) / decay_steps, 0.0, 1.0)
    cosine = end_lr + 0.5 * (max_lr - end_lr) * (1.0 + tf.cos(math.pi * progress))
    if not warmup_steps:
        return cosine
    warmup = max_lr * step / float(warmup_steps)
    return tf.where(step < warmup_steps, warmup, cosine)


def parse_loss_scale(spec):
    """The `--loss_scale` / `--npu_bert_loss_scale` value as ('off'|'dynamic'|'static', scale).

    The originals' numbers: -1 = off, 0 = dynamic, >= 1 = a static scale; the words 'off' and
    'dynamic' mean the same. 'auto' (the default) is resolved per precision by
    npu_runconfig.Runtime; left unresolved (no runtime) it is off.
    """
    text = str(spec).strip().lower()
    if text in ("off", "none", "-1", "", "auto"):
        return "off", None
    if text in ("dynamic", "0"):
        return "dynamic", None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 1:   # also refuses nan and other negatives
        raise ValueError("--loss_scale must be -1/off, 0/dynamic, auto or a static scale >= 1, "
                         "got %r" % (spec,))
    return "static", value


def loss_scale_manager(spec):
    """A loss-scale manager for `--loss_scale` (see parse_loss_scale), or None when off."""
    kind, value = parse_loss_scale(spec)
    if kind == "off":
        return None
    if kind == "dynamic":
        # Ascend's recommended dynamic settings (the ModelZoo deliveries use these).
        return ExponentialUpdateLossScaleManager(init_loss_scale=2 ** 32, incr_every_n_steps=1000,
                                                 decr_every_n_nan_or_inf=2, decr_ratio=0.5)
    return FixedLossScaleManager(value)


def create_train_op(loss, optimizer, global_step=None, clip_norm=None, loss_scale=None,
                    var_list=None, grad_multiplier=None):
    """Gradients (loss-scaled if asked), global-norm clipping, update, global_step + 1.

    Args:
      loss: scalar float tensor.
      optimizer: a tf.train.Optimizer.
      global_step: the global step variable (created if None).
      clip_norm: clip gradients to this global norm (BERT: 1.0); None for no clipping.
      loss_scale: a loss-scale manager, or a `--loss_scale` string, or None.
      var_list: variables to train (default: all trainable).
      grad_multiplier: optional callable(variable name) -> float applied to each gradient after
        clipping (XLNet's layer-wise learning-rate decay); with it, tensors also has `gnorm`.
    Returns:
      (train_op, tensors) where tensors has `loss_scale` and `overflow` (scalar tensors) when
      loss scaling is on.
    """
    if global_step is None:
        global_step = tf.train.get_or_create_global_step()
    manager = loss_scale_manager(loss_scale) if isinstance(loss_scale, (str, int, float)) \
        else loss_scale
    # Off Ascend the wrapper's extra all-reduce is needed only when something looks at the
    # gradients before the update (common/multiworker.py); otherwise the strategy's own sum does.
    if HAVE_NPU or clip_norm or manager is not None or grad_multiplier is not None:
        optimizer = NPUDistributedOptimizer(optimizer)
    tensors = {}
    if manager is not None:
        # Ascend's optimizer all-reduces the overflow flag across ranks when distributed.
        optimizer = NPULossScaleOptimizer(optimizer, manager,
                                          is_distributed=int(os.environ.get("RANK_SIZE", "1")) > 1)
    grads_and_vars = optimizer.compute_gradients(loss, var_list=var_list)
    grads_and_vars = [(g, v) for g, v in grads_and_vars if g is not None]
    if not grads_and_vars:
        raise ValueError("no trainable variable receives a gradient from the loss")
    if clip_norm:
        grads, tvars = zip(*grads_and_vars)
        grads, gnorm = tf.clip_by_global_norm(list(grads), clip_norm=clip_norm)
        grads_and_vars = list(zip(grads, tvars))
        if grad_multiplier is not None:
            tensors["gnorm"] = gnorm
    if grad_multiplier is not None:
        grads_and_vars = [(g * grad_multiplier(v.op.name) if grad_multiplier(v.op.name) != 1.0
                           else g, v) for g, v in grads_and_vars]
    apply_op = optimizer.apply_gradients(grads_and_vars)
    if manager is not None:
        tensors["loss_scale"] = manager.get_loss_scale()
        if getattr(optimizer, "overflow", None) is not None:  # the fallback exposes it
            tensors["overflow"] = optimizer.overflow
    with tf.control_dependencies([apply_op]):
        train_op = tf.group(global_step.assign_add(1), name="train_op")
    return train_op, tensors


def create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps=0, optimizer="adamw",
                     weight_decay_rate=0.01, clip_norm=1.0, loss_scale=None, schedule="polynomial",
                     end_lr=0.0, momentum=0.9, use_nesterov=False, var_list=None):
    """The whole training step the way the models configure it.

    optimizer: 'adamw' (BERT), 'lamb' (ALBERT), 'momentum' (ResNeXt; weight decay belongs in the loss).
    schedule: 'polynomial' (linear decay, BERT) or 'cosine'.
    Returns (train_op, tensors) with tensors['lr'] plus loss_scale/overflow when loss scaling is on.
    """
    global_step = tf.train.get_or_create_global_step()
    if schedule == "polynomial":
        lr = warmup_polynomial_decay(init_lr, global_step, num_train_steps, num_warmup_steps, end_lr)
    elif schedule == "cosine":
        lr = warmup_cosine_decay(init_lr, global_step, num_train_steps, num_warmup_steps, end_lr)
    else:
        raise ValueError("unknown schedule %r (polynomial|cosine)" % schedule)
    if optimizer == "adamw":
        opt = AdamWeightDecayOptimizer(lr, weight_decay_rate=weight_decay_rate,
                                       exclude_from_weight_decay=DEFAULT_DECAY_EXCLUSIONS)
    elif optimizer == "lamb":
        opt = LAMBOptimizer(lr, weight_decay_rate=weight_decay_rate,
                            exclude_from_weight_decay=DEFAULT_DECAY_EXCLUSIONS)
    elif optimizer == "momentum":
        opt = tf.train.MomentumOptimizer(lr, momentum=momentum, use_nesterov=use_nesterov)
    else:
        raise ValueError("unknown optimizer %r (adamw|lamb|momentum)" % optimizer)
    train_op, tensors = create_train_op(loss, opt, global_step, clip_norm=clip_norm,
                                        loss_scale=loss_scale, var_list=var_list)
    tensors["lr"] = lr
    return train_op, tensors
