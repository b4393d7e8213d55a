"""Optimizers and schedules against an independent numpy computation."""
import math

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from common import optimization

GRADS = [np.array([[0.5, -1.0], [2.0, 0.25]], np.float32),
         np.array([[-0.1, 0.3], [0.7, -2.0]], np.float32),
         np.array([[1.5, 0.2], [-0.4, 0.9]], np.float32)]
INIT = np.array([[0.3, -0.2], [0.1, 0.8]], np.float32)


def numpy_adam_like(param, grads, lr, wd, decay, lamb, b1=0.9, b2=0.999, eps=1e-6,
                    kernel_form=False):
    """BERT's formula in float64. kernel_form: the moments as TensorFlow's fused Adam kernel forms
    them, m += (g - m) * (1 - beta_1) and v += (g^2 - v) * (1 - beta_2), each 1 - beta taken in
    float32 (1 - float32(0.999) is 0.99998713e-3, where the original multiplies by 0.001)."""
    m = np.zeros_like(param, np.float64)
    v = np.zeros_like(param, np.float64)
    p = param.astype(np.float64)
    gain1, gain2 = ((float(np.float32(1) - np.float32(b1)), float(np.float32(1) - np.float32(b2)))
                    if kernel_form else (1 - b1, 1 - b2))
    for g in grads:
        g = g.astype(np.float64)
        if kernel_form:
            m = m + (g - m) * gain1
            v = v + (g * g - v) * gain2
        else:
            m = b1 * m + gain1 * g
            v = b2 * v + gain2 * g * g
        update = m / (np.sqrt(v) + eps)
        if decay:
            update = update + wd * p
        ratio = 1.0
        if lamb:
            wn, un = np.linalg.norm(p), np.linalg.norm(update)
            ratio = wn / un if wn > 0 and un > 0 else 1.0
        p = p - ratio * lr * update
    return p, m, v


def run_steps(opt_factory, var_name, use_resource=None, init=INIT, grads=GRADS):
    graph = tf.Graph()
    with graph.as_default():
        with tf.variable_scope(var_name.rsplit("/", 1)[0]):
            var = tf.get_variable(var_name.rsplit("/", 1)[1], initializer=init,
                                  use_resource=use_resource)
        grad = tf.placeholder(tf.float32, init.shape)
        opt = opt_factory()
        op = opt.apply_gradients([(grad, var)])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for g in grads:
                sess.run(op, {grad: g})
            names = sorted(v.op.name for v in tf.global_variables())
            return sess.run(var), names, sess.run(opt.get_slot(var, "m")), sess.run(opt.get_slot(var, "v"))


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("use_resource", [True, False])
@pytest.mark.parametrize("var_name, decays", [("layer_0/dense/kernel", True),
                                              ("layer_0/LayerNorm/gamma", False),
                                              ("layer_0/dense/bias", False)])
def test_adam_weight_decay_matches_numpy(var_name, decays, use_resource, fused):
    got, names, m, v = run_steps(lambda: optimization.AdamWeightDecayOptimizer(
        0.01, weight_decay_rate=0.1, fused=fused,
        exclude_from_weight_decay=optimization.DEFAULT_DECAY_EXCLUSIONS), var_name, use_resource)
    want, want_m, want_v = numpy_adam_like(INIT, GRADS, 0.01, 0.1, decays, lamb=False,
                                           kernel_form=fused)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(m, want_m, rtol=1e-5)
    np.testing.assert_allclose(v, want_v, rtol=1e-5)
    assert names == sorted([var_name, var_name + "/adam_m", var_name + "/adam_v"])


@pytest.mark.parametrize("use_resource", [True, False])
def test_fused_adam_tracks_the_op_by_op_formula(use_resource):
    # 200 steps on 4096 values. The kernel's 1 - beta2 is 1.3e-5 (relative) below the original's
    # 0.001, so v is that much smaller, each step up to 6.5e-6 (relative) longer: after 200 steps of
    # lr 1e-3 at most 200 * 1e-3 * 6.5e-6 = 1.3e-6 apart, plus float32 rounding.
    rng = np.random.RandomState(0)
    init = rng.normal(0, 0.02, (64, 64)).astype(np.float32)
    grads = [rng.normal(0, 1e-2, init.shape).astype(np.float32) for _ in range(200)]
    runs = {fused: run_steps(lambda: optimization.AdamWeightDecayOptimizer(
        1e-3, weight_decay_rate=0.01, fused=fused), "layer_0/dense/kernel", use_resource,
        init, grads) for fused in (True, False)}
    (fused_p, fused_names, fused_m, fused_v), (ref_p, ref_names, ref_m, ref_v) = runs[True], runs[False]
    assert fused_names == ref_names
    assert np.abs(ref_p - init).mean() > 0.02  # it moved: 200 steps of up to lr each
    np.testing.assert_allclose(fused_p, ref_p, rtol=0, atol=1.6e-6)
    np.testing.assert_allclose(fused_m, ref_m, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(fused_v, ref_v, rtol=3e-5, atol=1e-12)


@pytest.mark.parametrize("use_resource", [True, False])
def test_fused_decay_waits_for_the_gradient(tf_graph, use_resource):
    # The decay needs no gradient; without this order it could write a TF 1.15 reference variable
    # in place while the same step's forward and backward pass still read it (TF 1.15 two-worker
    # runs then ended 2.5e-5 away from one process, test_multiworker.py).
    var = tf.get_variable("layer_0/dense/kernel", initializer=INIT, use_resource=use_resource)
    grad = tf.placeholder(tf.float32, INIT.shape, name="the_gradient")
    optimization.AdamWeightDecayOptimizer(0.01, weight_decay_rate=0.1).apply_gradients(
        [(grad, var)])
    decays = [op for op in tf_graph.get_operations()
              if op.type in ("ApplyGradientDescent", "ResourceApplyGradientDescent")]
    assert len(decays) == 1
    seen, todo = set(), [decays[0]]
    while todo:
        op = todo.pop()
        for parent in [t.op for t in op.inputs] + list(op.control_inputs):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    assert grad.op in seen


@pytest.mark.parametrize("var_name, decays", [("enc/attention/query/kernel", True),
                                              ("enc/LayerNorm/beta", False)])
def test_lamb_matches_numpy(var_name, decays):
    got, names, _, _ = run_steps(lambda: optimization.LAMBOptimizer(
        0.05, weight_decay_rate=0.01,
        exclude_from_weight_decay=optimization.DEFAULT_DECAY_EXCLUSIONS), var_name)
    # ALBERT: excluded variables also skip layer adaptation (trust ratio 1)
    want, _, _ = numpy_adam_like(INIT, GRADS, 0.05, 0.01, decays, lamb=decays)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert var_name + "/adam_m" in names and var_name + "/adam_v" in names


def test_lamb_differs_from_adam():
    lamb, _, _, _ = run_steps(lambda: optimization.LAMBOptimizer(0.05), "a/kernel")
    adam, _, _, _ = run_steps(lambda: optimization.AdamWeightDecayOptimizer(0.05), "a/kernel")
    assert not np.allclose(lamb, adam)


def _schedule_values(make_lr, steps):
    graph = tf.Graph()
    with graph.as_default():
        step = tf.placeholder(tf.int64, [])
        lr = make_lr(step)
        with tf.Session() as sess:
            return [float(sess.run(lr, {step: s})) for s in steps]


def test_warmup_polynomial_decay():
    steps = [0, 5, 10, 55, 100, 120]
    got = _schedule_values(lambda s: optimization.warmup_polynomial_decay(1e-3, s, 100, 10), steps)
    want = [1e-3 * s / 10 if s < 10 else 1e-3 * (1 - min(s, 100) / 100) for s in steps]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-12)


def test_warmup_cosine_decay():
    steps = [0, 2, 5, 30, 55, 100]
    got = _schedule_values(lambda s: optimization.warmup_cosine_decay(0.1, s, 105, 5, 1e-6), steps)
    want = [0.1 * s / 5 if s < 5 else
            1e-6 + 0.5 * (0.1 - 1e-6) * (1 + math.cos(math.pi * min((s - 5) / 100, 1))) for s in steps]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)


def test_global_norm_clipping_matches_numpy(tf_graph):
    a = tf.get_variable("a", initializer=tf.constant([3.0, 0.0]))
    b = tf.get_variable("b", initializer=tf.constant([0.0, 4.0]))
    loss = tf.reduce_sum(a * tf.constant([3.0, 0.0])) + tf.reduce_sum(b * tf.constant([0.0, 4.0]))
    train_op, _ = optimization.create_train_op(loss, tf.train.GradientDescentOptimizer(1.0),
                                               clip_norm=1.0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train_op)
        # grads (3,0),(0,4): global norm 5 -> scaled by 1/5
        np.testing.assert_allclose(sess.run(a), [3.0 - 0.6, 0.0], rtol=1e-6)
        np.testing.assert_allclose(sess.run(b), [0.0, 4.0 - 0.8], rtol=1e-6)
        assert sess.run(tf.train.get_global_step()) == 1


def test_unknown_optimizer_is_rejected(tf_graph):
    w = tf.get_variable("w", initializer=tf.constant(1.0))
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimization.create_optimizer(w * 2.0, 1e-3, 10, optimizer="adagrad")
