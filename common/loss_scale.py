"""Loss scaling for the non-Ascend fallback, with the semantics of Ascend's loss-scale classes.

The loss is multiplied by the current scale before differentiation; gradients are divided by it
before anything else sees them (clipping, the update). A step whose gradients are not all finite is
skipped: weights and optimizer slots stay unchanged. `global_step` still advances (the train op
built by `common.optimization.create_train_op` increments it unconditionally, as google-research/bert
does), so step counts, LR schedules and logs line up between backends.

Managers:
  * FixedLossScaleManager(loss_scale, enable_overflow_check=True) - the scale never changes; with
        enable_overflow_check=False overflowing updates are applied too (Ascend's meaning).
  * ExponentialUpdateLossScaleManager(init_loss_scale, incr_every_n_steps, decr_every_n_nan_or_inf=2,
        incr_ratio=2, decr_ratio=0.8)          - after `incr_every_n_steps` consecutive finite steps
        the scale is multiplied by `incr_ratio`; after `decr_every_n_nan_or_inf` consecutive
        overflowing steps it is multiplied by `decr_ratio` (never below 1).
The current scale is `optimizer.loss_scale` and the overflow flag `optimizer.overflow` (both tensors).
"""
import tensorflow.compat.v1 as tf

from common.wrapped_optimizer import WrappedOptimizer


class FixedLossScaleManager:
    """A constant loss scale."""

    def __init__(self, loss_scale, enable_overflow_check=True):
        if loss_scale < 1:
            raise ValueError("loss_scale must be >= 1, got %r" % (loss_scale,))
        self._loss_scale = float(loss_scale)
        self.enable_overflow_check = enable_overflow_check

    def get_loss_scale(self):
        return tf.constant(self._loss_scale, tf.float32, name="loss_scale")

    def update_loss_scale(self, finite_grads):
        del finite_grads
        return tf.no_op(name="fixed_loss_scale_update")


class ExponentialUpdateLossScaleManager:
    """A loss scale that grows after clean stretches and shrinks after overflows.

    State lives in three non-trainable float/int variables under `loss_scale/`, saved in checkpoints
    so that a resumed run continues with the scale it had.
    """

    def __init__(self, init_loss_scale, incr_every_n_steps, decr_every_n_nan_or_inf=2,
                 incr_ratio=2.0, decr_ratio=0.8):
        if init_loss_scale < 1 or incr_every_n_steps < 1 or decr_every_n_nan_or_inf < 1:
            raise ValueError("invalid dynamic loss-scale settings")
        if incr_ratio <= 1 or not 0 < decr_ratio < 1:
            raise ValueError("need incr_ratio > 1 and 0 < decr_ratio < 1")
        self.enable_overflow_check = True
        self._incr_every = incr_every_n_steps
        self._decr_every = decr_every_n_nan_or_inf
        self._incr_ratio = float(incr_ratio)
        self._decr_ratio = float(decr_ratio)
        with tf.variable_scope("loss_scale", reuse=tf.AUTO_REUSE):
            self._scale = tf.get_variable(
                "scale", dtype=tf.float32, trainable=False,
                initializer=tf.constant(float(init_loss_scale), tf.float32))
            self._good_steps = tf.get_variable(
                "good_steps", dtype=tf.int32, trainable=False, initializer=tf.constant(0))
            self._bad_steps = tf.get_variable(
                "bad_steps", dtype=tf.int32, trainable=False, initializer=tf.constant(0))

    def get_loss_scale(self):
        return self._scale.read_value()

    def update_loss_scale(self, finite_grads):
        def on_finite():
            good = self._good_steps + 1
            grow = good >= self._incr_every
            grown = self._scale * self._incr_ratio
            # Never grow into inf: keep the old scale if the product overflows fp32.
            new_scale = tf.where(tf.logical_and(grow, tf.is_finite(grown)), grown, self._scale)
            return tf.group(self._scale.assign(new_scale),
                            self._good_steps.assign(tf.where(grow, 0, good)),
                            self._bad_steps.assign(0))

        def on_overflow():
            bad = self._bad_steps + 1
            shrink = bad >= self._decr_every
            shrunk = tf.maximum(self._scale * self._decr_ratio, 1.0)
            return tf.group(self._scale.assign(tf.where(shrink, shrunk, self._scale)),
                            self._bad_steps.assign(tf.where(shrink, 0, bad)),
                            self._good_steps.assign(0))

        return tf.cond(finite_grads, on_finite, on_overflow)


def _scale_gradient(grad, factor):
    if grad is None:
        return None
    if isinstance(grad, tf.IndexedSlices):
        return tf.IndexedSlices(grad.values * factor, grad.indices, grad.dense_shape)
    return grad * factor


def all_finite(grads):
    """A scalar bool: every gradient value is finite (None gradients are ignored)."""
    checks = []
    for grad in grads:
        if grad is None:
            continue
        values = grad.values if isinstance(grad, tf.IndexedSlices) else grad
        checks.append(tf.reduce_all(tf.is_finite(values)))
    return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


class LossScaleOptimizer(WrappedOptimizer):
    """Wraps an optimizer: scaled loss in, unscaled gradients out, overflowing steps skipped."""

    def __init__(self, opt, loss_scale_manager, is_distributed=False):
        super().__init__(opt, name="LossScaleOptimizer")
        del is_distributed  # single device on the fallback
        self._manager = loss_scale_manager
        self.loss_scale = loss_scale_manager.get_loss_scale()
        self.overflow = None  # set by apply_gradients

    def compute_gradients(self, loss, var_list=None, **kwargs):
        scaled = loss * tf.cast(self.loss_scale, loss.dtype)
        grads_and_vars = self._opt.compute_gradients(scaled, var_list=var_list, **kwargs)
        inv_scale = 1.0 / self.loss_scale
        return [(_scale_gradient(g, tf.cast(inv_scale, g.dtype) if g is not None else None), v)
                for g, v in grads_and_vars]

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        grads_and_vars = list(grads_and_vars)
        finite = all_finite([g for g, _ in grads_and_vars])
        self.overflow = tf.logical_not(finite, name="overflow")

        def apply():
            # Optimizers create their slots under init_scope, so this is safe inside cond.
            return tf.group(self._opt.apply_gradients(grads_and_vars, global_step=global_step,
                                                      name=name))

        # A fixed manager built with enable_overflow_check=False applies every update, as
        # Ascend's does; the overflow flag is still reported.
        if getattr(self._manager, "enable_overflow_check", True):
            update = tf.cond(finite, apply, tf.no_op)
        else:
            update = apply()
        with tf.control_dependencies([update]):
            return tf.group(self._manager.update_loss_scale(finite), name="loss_scaled_update")
