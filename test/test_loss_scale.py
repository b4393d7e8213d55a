"""Fallback loss scaling: unscaled gradients, skipped overflow steps, scale shrinks and grows."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from common import optimization
from common.loss_scale import ExponentialUpdateLossScaleManager, FixedLossScaleManager
from common.npu_compat import NPULossScaleOptimizer


def _problem(poison):
    """loss = sum(w * x) with x fed: poison=inf makes the gradient non-finite."""
    w = tf.get_variable("w", initializer=tf.constant([1.0, 2.0]))
    x = tf.placeholder(tf.float32, [2])
    return w, x, tf.reduce_sum(w * x)


def test_gradients_are_unscaled(tf_graph):
    w, x, loss = _problem(None)
    opt = NPULossScaleOptimizer(tf.train.GradientDescentOptimizer(0.1), FixedLossScaleManager(1024))
    (grad, _), = opt.compute_gradients(loss, var_list=[w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(grad, {x: [3.0, -5.0]}), [3.0, -5.0], rtol=1e-6)


def test_overflow_skips_update_and_shrinks_scale(tf_graph):
    w, x, loss = _problem(None)
    manager = ExponentialUpdateLossScaleManager(init_loss_scale=2 ** 16, incr_every_n_steps=1000,
                                                decr_every_n_nan_or_inf=2, decr_ratio=0.5)
    train_op, tensors = optimization.create_train_op(
        loss, optimization.AdamWeightDecayOptimizer(0.1), loss_scale=manager)
    step = tf.train.get_global_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(2):
            _, overflow = sess.run([train_op, tensors["overflow"]], {x: [np.inf, 1.0]})
            assert overflow
            np.testing.assert_array_equal(sess.run(w), [1.0, 2.0])  # weights untouched
            m = sess.run([v for v in tf.global_variables() if v.op.name == "w/adam_m"][0])
            np.testing.assert_array_equal(m, [0.0, 0.0])            # slots untouched
        # two consecutive overflows (decr_every_n_nan_or_inf=2) halve the scale once
        assert sess.run(tensors["loss_scale"]) == 2 ** 15
        assert sess.run(step) == 2                                  # global_step still advances
        _, overflow = sess.run([train_op, tensors["overflow"]], {x: [1.0, 1.0]})
        assert not overflow
        assert not np.array_equal(sess.run(w), [1.0, 2.0])          # a clean step updates


def test_clean_steps_grow_scale(tf_graph):
    w, x, loss = _problem(None)
    manager = ExponentialUpdateLossScaleManager(init_loss_scale=8, incr_every_n_steps=3,
                                                decr_every_n_nan_or_inf=2, decr_ratio=0.5)
    train_op, tensors = optimization.create_train_op(
        loss, tf.train.GradientDescentOptimizer(0.01), loss_scale=manager)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        scales = []
        for _ in range(7):
            sess.run(train_op, {x: [1.0, 1.0]})
            scales.append(sess.run(tensors["loss_scale"]))
        assert scales == [8, 8, 16, 16, 16, 32, 32]
        # an overflow resets the clean-step count: two more clean steps do not grow it
        sess.run(train_op, {x: [np.nan, 1.0]})
        sess.run(train_op, {x: [1.0, 1.0]})
        sess.run(train_op, {x: [1.0, 1.0]})
        assert sess.run(tensors["loss_scale"]) == 32


def test_loss_scaled_sgd_matches_plain_sgd(tf_graph):
    w, x, loss = _problem(None)
    train_op, _ = optimization.create_train_op(loss, tf.train.GradientDescentOptimizer(0.5),
                                               loss_scale="1024")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train_op, {x: [2.0, -4.0]})
        np.testing.assert_allclose(sess.run(w), [1.0 - 0.5 * 2.0, 2.0 + 0.5 * 4.0], rtol=1e-6)


@pytest.mark.parametrize("spec, expected", [
    # the originals' numbers (--npu_bert_loss_scale / --loss_scale): -1 off, 0 dynamic, >= 1 static
    ("-1", type(None)), ("0", ExponentialUpdateLossScaleManager), ("1024", FixedLossScaleManager),
    ("dynamic", ExponentialUpdateLossScaleManager), ("off", type(None)), ("auto", type(None))])
def test_loss_scale_flag(tf_graph, spec, expected):
    assert isinstance(optimization.loss_scale_manager(spec), expected)


@pytest.mark.parametrize("spec", ["lots", "-2", "0.5", "nan"])
def test_loss_scale_flag_rejects_garbage(spec):
    with pytest.raises(ValueError, match="--loss_scale"):
        optimization.loss_scale_manager(spec)


def test_overflow_check_off_applies_every_update(tf_graph):
    """FixedLossScaleManager(enable_overflow_check=False): Ascend's meaning, the update is applied
    even when a gradient is not finite (here the weight becomes inf)."""
    w = tf.Variable([1.0])
    x = tf.placeholder(tf.float32, [1])
    loss = tf.reduce_sum(w * x)
    for check in (True, False):
        manager = FixedLossScaleManager(4.0, enable_overflow_check=check)
        train_op, tensors = optimization.create_train_op(
            loss, tf.train.GradientDescentOptimizer(0.5), loss_scale=manager)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            _, overflow = sess.run([train_op, tensors["overflow"]], {x: [np.inf]})
            assert overflow
            assert np.isfinite(sess.run(w)[0]) == check
