"""ResNext50/modeling.py: parameter count, shapes, grouped vs split kernels, BN facts, decay set."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from ResNext50 import modeling

tf.disable_eager_execution()

TINY = modeling.ResNextConfig(layer_counts=(1, 1, 1, 1), widths=(32, 64, 128, 256), cardinality=8,
                              stem_filters=16)


def test_resnext50_has_25028904_parameters_at_1000_classes(tf_graph):
    images = tf.placeholder(tf.float32, [None, 224, 224, 3])
    logits = modeling.resnext_logits(images, 1000, training=True, group_conv_impl="split")
    assert logits.shape.as_list() == [None, 1000]
    assert modeling.count_parameters(tf.trainable_variables()) == 25028904
    names = [v.op.name for v in tf.trainable_variables()]
    assert names[-2:] == ["fp32_vars/dense/kernel", "fp32_vars/dense/bias"]
    # 16 blocks, 4 with a projection shortcut; stem conv + 3 convs per block + 4 shortcuts + dense.
    kernels = [n for n in names if n.endswith("/kernel")]
    assert len(kernels) == 1 + 16 * 3 + 4 + 1
    grouped = tf.trainable_variables("fp32_vars/stage1/block0/conv2/kernel")[0]
    assert grouped.shape.as_list() == [3, 3, 4, 128]   # 32 groups of 4 channels
    moving = [v for v in tf.global_variables() if "moving_" in v.op.name]
    assert len(moving) == 2 * (1 + 16 * 3 + 4) and not any(v in tf.trainable_variables() for v in moving)


def test_weight_decay_excludes_batch_norm_and_biases(tf_graph):
    modeling.resnext_logits(tf.placeholder(tf.float32, [None, 32, 32, 3]), 10, True, TINY)
    decayed = [v.op.name for v in tf.trainable_variables() if modeling.is_weight_decay_variable(v)]
    assert decayed and all(n.endswith("/kernel") for n in decayed)
    assert len(decayed) == 1 + 4 * 3 + 4 + 1
    skipped = [v.op.name for v in tf.trainable_variables() if not modeling.is_weight_decay_variable(v)]
    assert {n.rsplit("/", 1)[1] for n in skipped} == {"gamma", "beta", "bias"}


@pytest.mark.parametrize("size,batch", [(32, 2), (64, 3), (57, 1)])
def test_output_shapes(tf_graph, size, batch):
    images = tf.random_normal([batch, size, size, 3], seed=1)
    logits = modeling.resnext_logits(images, 7, training=False, config=TINY)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(logits)
    assert out.shape == (batch, 7) and np.all(np.isfinite(out))


def numpy_grouped_conv(x, kernel, stride, groups):
    """Reference: SAME padding, NHWC, kernel [3, 3, C/groups, C_out]."""
    n, h, w, c = x.shape
    c_out = kernel.shape[3]
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + 3 - h, 0)
    pad_w = max((out_w - 1) * stride + 3 - w, 0)
    xp = np.pad(x, [(0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)])
    cin_g, cout_g = c // groups, c_out // groups
    out = np.zeros((n, out_h, out_w, c_out), np.float64)
    for g in range(groups):
        xs = xp[..., g * cin_g:(g + 1) * cin_g]
        ks = kernel[..., g * cout_g:(g + 1) * cout_g]
        for i in range(out_h):
            for j in range(out_w):
                patch = xs[:, i * stride:i * stride + 3, j * stride:j * stride + 3, :]
                out[:, i, j, g * cout_g:(g + 1) * cout_g] = np.tensordot(patch, ks, axes=3)
    return out


GROUPED_RUNS = modeling.resolve_group_conv_impl("auto", "cpu") == "grouped"
needs_grouped = pytest.mark.skipif(not GROUPED_RUNS, reason="this TensorFlow/CPU runs no grouped "
                                   "conv2d (TF 1.x, or oneDNN off); the split kernel is still "
                                   "checked vs numpy")


@pytest.mark.parametrize("stride", [1, 2])
def test_grouped_and_split_kernels_match_numpy(tf_graph, stride):
    rng = np.random.RandomState(0)
    x = rng.randn(2, 7, 6, 16).astype(np.float32)
    k = rng.randn(3, 3, 4, 16).astype(np.float32)   # 4 groups
    xt, kt = tf.constant(x), tf.constant(k)
    impls = ["split", "grouped"] if GROUPED_RUNS else ["split"]
    outs = [modeling.grouped_conv2d(xt, kt, stride, 4, impl) for impl in impls]
    grads = [tf.gradients(tf.reduce_sum(tf.square(y)), [xt, kt]) for y in outs]
    with tf.Session() as sess:
        values, grad_values = sess.run([outs, grads])
    expected = numpy_grouped_conv(x, k, stride, 4)
    for value in values:
        np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-4)
    for other in grad_values[1:]:
        for a, b in zip(grad_values[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


@needs_grouped
def test_whole_network_same_numbers_with_grouped_and_split_kernels(tf_graph):
    images = tf.random_normal([2, 32, 32, 3], seed=3)
    labels = tf.constant([1, 4])
    outputs = {}
    for impl in ("grouped", "split"):
        with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
            logits = modeling.resnext_logits(images, 5, training=True, config=TINY,
                                             group_conv_impl=impl)
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        kernels = [v for v in tf.trainable_variables() if "conv2/kernel" in v.op.name]
        outputs[impl] = [logits] + tf.gradients(loss, kernels)
    assert len(tf.trainable_variables()) == len({v.op.name for v in tf.trainable_variables()})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        # gamma of bn3 starts at 0; randomise every variable so the grouped conv matters.
        for v in tf.trainable_variables():
            sess.run(v.assign(tf.random_normal(v.shape, stddev=0.2, seed=7)))
        grouped, split = sess.run([outputs["grouped"], outputs["split"]])
    assert len(grouped) == 1 + 4
    for a, b in zip(grouped, split):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-4)
