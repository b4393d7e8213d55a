"""ResNeXt-50 (32x4d) for ImageNet classification, NHWC, TF-1.x graph style.

The network of the Ascend ModelZoo ResNext50 delivery:

    stem    pad 3, conv 7x7/2 (64) + BN + ReLU, max-pool 3x3/2
    stage1  3 blocks, width 128,  out 256,  stride 1
    stage2  4 blocks, width 256,  out 512,  first stride 2
    stage3  6 blocks, width 512,  out 1024, first stride 2
    stage4  3 blocks, width 1024, out 2048, first stride 2
    head    global average pool, dense (num_classes)

A block (v1, post-activation): 1x1 conv (width) + BN + ReLU, grouped 3x3 conv (width, 32 groups
of 4 channels, stride s) + BN + ReLU, 1x1 conv (out) + BN with gamma initialised to 0; the
shortcut is the identity, or a strided 1x1 conv + BN in the first block of a stage; ReLU after
the sum. BN: decay 0.9, scale on. Convolutions have no bias; their kernels use
`tf.variance_scaling_initializer()` except the grouped 3x3 kernel, which the reference creates
with `tf.get_variable`'s default (Glorot uniform). The dense layer uses variance scaling too.
25,028,904 trainable parameters at 1000 classes.

Two numerical options of the config change no variable (every checkpoint loads under both):
  * padding: "symmetric" (default) pads the stride-2 3x3 convolutions and the stem max-pool by 1
    on every side, as torchvision/timm (and TensorFlow's official ResNet) do; "same" is TF's SAME
    padding, 0 before and 1 after on even inputs, as the Ascend delivery.
  * batch_norm_epsilon: 1e-5 (default, torchvision/timm) or the delivery's 1e-4.
configs/resnext50.json states both; configs/resnext50_delivery.json has the delivery's values.

All variables live under the `fp32_vars/` scope like the reference, so its default
`restore_exclude=['fp32_vars/dense']` keeps meaning "everything but the classifier".

The grouped 3x3 convolution has two kernels with identical variables and numbers:
  * "grouped": one `tf.nn.conv2d` whose filter has in_channels = C / groups (the NPU, a GPU, a CPU
    whose oneDNN kernels are on, all on TF 2.x); the plain CPU kernel and TF 1.15 cannot run it.
  * "split": split input and filter into `groups` pieces, convolve each, concatenate.
`choose_group_conv("auto", device)` decides from what runs there, at graph-build time.
"""

import json
import os

import numpy as np
import tensorflow.compat.v1 as tf

from common import cpu_features

BATCH_NORM_DECAY = 0.9
BATCH_NORM_EPSILON = 1e-5          # torchvision's / timm's; the delivery's is 1e-4
DELIVERY_BATCH_NORM_EPSILON = 1e-4
PADDINGS = ("symmetric", "same")   # of the stride-2 3x3 convs and the stem max-pool
MODEL_SCOPE = "fp32_vars"
HEAD_SCOPE = MODEL_SCOPE + "/dense"
MIN_IMAGE_SIZE = 32  # five stride-2 steps: 32 px is the smallest input with a 1x1 final map

_CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
DEFAULT_CONFIG_PATH = os.path.join(_CONFIG_DIR, "resnext50.json")
GROUP_CONV_IMPLS = ("auto", "grouped", "split")
UPDATE_OPS = tf.GraphKeys.UPDATE_OPS  # where the BN moving-average updates go


class ResNextConfig(object):
    """Architecture hyper-parameters.

    layer_counts: blocks per stage, (3, 4, 6, 3) for ResNeXt-50.
    widths:       bottleneck (grouped conv) width per stage, (128, 256, 512, 1024).
    cardinality:  number of groups of the 3x3 conv, 32 (so 4 channels per group in stage 1).
    expansion:    block output channels = expansion * width, 2.
    stem_filters: channels of the 7x7 stem conv, 64.
    padding:      "symmetric" (1 on each side, torchvision's) or "same" (TF SAME, the delivery's)
                  for the stride-2 3x3 convolutions and the stem max-pool.
    batch_norm_epsilon: 1e-5 (torchvision's) or 1e-4 (the delivery's).
    """

    KEYS = ("layer_counts", "widths", "cardinality", "expansion", "stem_filters", "padding",
            "batch_norm_epsilon")

    def __init__(self, layer_counts=(3, 4, 6, 3), widths=(128, 256, 512, 1024), cardinality=32,
                 expansion=2, stem_filters=64, padding="symmetric",
                 batch_norm_epsilon=BATCH_NORM_EPSILON):
        self.layer_counts = [int(n) for n in layer_counts]
        self.widths = [int(w) for w in widths]
        self.cardinality = int(cardinality)
        self.expansion = int(expansion)
        self.stem_filters = int(stem_filters)
        self.padding = str(padding)
        self.batch_norm_epsilon = float(batch_norm_epsilon)
        if self.padding not in PADDINGS:
            raise ValueError("padding must be one of %s, got %r" % ("|".join(PADDINGS), padding))
        if not self.batch_norm_epsilon > 0:
            raise ValueError("batch_norm_epsilon must be > 0, got %r" % batch_norm_epsilon)
        if len(self.layer_counts) != len(self.widths) or not self.layer_counts:
            raise ValueError("layer_counts and widths must be non-empty lists of the same length")
        for width in self.widths:
            if width % self.cardinality:
                raise ValueError("every width must be a multiple of cardinality=%d, got %d"
                                 % (self.cardinality, width))

    @classmethod
    def from_dict(cls, values):
        unknown = sorted(set(values) - set(cls.KEYS) - {"description"})
        if unknown:
            raise ValueError("unknown ResNeXt config keys: %s" % ", ".join(unknown))
        return cls(**{k: values[k] for k in cls.KEYS if k in values})

    @classmethod
    def from_json_file(cls, path):
        if not os.path.isfile(path):
            raise ValueError("model config %s does not exist" % path)
        with open(path) as f:
            try:
                values = json.load(f)
            except ValueError as exc:
                raise ValueError("model config %s is not valid JSON: %s" % (path, exc))
        try:
            return cls.from_dict(values)
        except (TypeError, ValueError) as exc:
            raise ValueError("model config %s: %s" % (path, exc))

    def to_dict(self):
        return {key: getattr(self, key) for key in self.KEYS}


def choose_group_conv(impl="auto", device="cpu"):
    """(kernel, reason): which grouped-conv kernel to build and why, decided from what runs.

    'auto' -> 'grouped' where the device's kernels run a grouped `tf.nn.conv2d` forward and
    backward: the NPU, a GPU on TF 2.x, a CPU on TF 2.x whose oneDNN kernels are on. Elsewhere
    'split': TensorFlow's plain (Eigen) CPU kernel has no grouped gradient and no fused grouped
    forward pass, and stock TF 1.15's CPU kernel corrupts memory on it (so this never probes).
    """
    if impl not in GROUP_CONV_IMPLS:
        raise ValueError("--group_conv must be one of %s, got %r" % ("|".join(GROUP_CONV_IMPLS), impl))
    if impl != "auto":
        return impl, "--group_conv=%s" % impl
    if device == "npu":
        return "grouped", "npu: compiled as one grouped Conv2D, as the delivery does"
    if int(tf.VERSION.split(".")[0]) < 2:
        return "split", "TensorFlow %s has no grouped conv2d kernel on %s" % (tf.VERSION, device)
    if device == "gpu":
        return "grouped", "gpu: cuDNN runs grouped convolutions"
    if cpu_features.onednn_enabled():
        return "grouped", "cpu: oneDNN's kernels run grouped convolutions and their gradients"
    return "split", ("cpu: oneDNN is off in this TensorFlow on this CPU, and the plain CPU kernel "
                     "has no grouped conv gradient")


def resolve_group_conv_impl(impl="auto", device="cpu"):
    """The kernel `choose_group_conv` picks, without the reason."""
    return choose_group_conv(impl, device)[0]


def pad_symmetric(inputs, amount):
    """[N, H, W, C] -> [N, H + 2 * amount, W + 2 * amount, C], zeros on every side."""
    return tf.pad(inputs, [[0, 0], [amount, amount], [amount, amount], [0, 0]])


def grouped_conv2d(inputs, kernel, stride, groups, impl, padding="same"):
    """3x3 grouped convolution.

    inputs: [N, H, W, C] float; kernel: [3, 3, C // groups, C_out], C_out % groups == 0.
    Returns [N, ceil(H / stride), ceil(W / stride), C_out]. Group g sees input channels
    [g*C/groups, (g+1)*C/groups) and produces output channels [g*C_out/groups, ...).
    padding "same": TF SAME; "symmetric": 1 on every side (torchvision's padding=1), which
    differs from SAME only at stride 2 on even sizes (SAME pads 0 before and 1 after).
    """
    strides = [1, stride, stride, 1]
    mode = "SAME"
    if padding == "symmetric" and stride > 1:
        inputs, mode = pad_symmetric(inputs, 1), "VALID"
    if impl == "grouped":
        return tf.nn.conv2d(inputs, kernel, strides=strides, padding=mode)
    if impl != "split":
        raise ValueError("grouped_conv2d impl must be 'grouped' or 'split', got %r" % impl)
    input_groups = tf.split(inputs, groups, axis=3)
    kernel_groups = tf.split(kernel, groups, axis=3)
    outputs = [tf.nn.conv2d(x, k, strides=strides, padding=mode)
               for x, k in zip(input_groups, kernel_groups)]
    return tf.concat(outputs, axis=3)


def batch_norm(inputs, training, name, zero_gamma=False, epsilon=BATCH_NORM_EPSILON):
    """Fused batch normalisation of [N, H, W, C] over N, H, W (same variables as tf.layers:
    gamma, beta, moving_mean, moving_variance). In training the batch statistics normalise and
    the moving averages are updated by ops put in the UPDATE_OPS collection (decay 0.9), which
    the train op must depend on; otherwise the moving averages normalise."""
    channels = inputs.get_shape().as_list()[3]
    with tf.variable_scope(name):
        gamma = tf.get_variable("gamma", [channels], tf.float32,
                                tf.zeros_initializer() if zero_gamma else tf.ones_initializer())
        beta = tf.get_variable("beta", [channels], tf.float32, tf.zeros_initializer())
        moving_mean = tf.get_variable("moving_mean", [channels], tf.float32,
                                      tf.zeros_initializer(), trainable=False)
        moving_variance = tf.get_variable("moving_variance", [channels], tf.float32,
                                          tf.ones_initializer(), trainable=False)
        if not training:
            outputs, _, _ = tf.nn.fused_batch_norm(
                inputs, gamma, beta, mean=moving_mean, variance=moving_variance,
                epsilon=epsilon, is_training=False)
            return outputs
        outputs, batch_mean, batch_variance = tf.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=epsilon, is_training=True)
        for moving, value in ((moving_mean, batch_mean), (moving_variance, batch_variance)):
            update = tf.assign_sub(moving, (moving - value) * (1.0 - BATCH_NORM_DECAY))
            tf.add_to_collection(UPDATE_OPS, update)
        return outputs


def conv2d(inputs, filters, kernel_size, stride, name, padding="SAME"):
    """Bias-free convolution [N, H, W, C] -> [N, H/stride, W/stride, filters] (SAME) with its
    kernel at `<name>/kernel` [k, k, C, filters], variance-scaling initialised."""
    channels = inputs.get_shape().as_list()[3]
    with tf.variable_scope(name):
        kernel = tf.get_variable("kernel", [kernel_size, kernel_size, channels, filters],
                                 tf.float32, tf.variance_scaling_initializer())
    return tf.nn.conv2d(inputs, kernel, strides=[1, stride, stride, 1], padding=padding)


def dense(inputs, units, name):
    """[N, C] -> [N, units] with `<name>/kernel` [C, units] (variance scaling) and `<name>/bias`."""
    channels = inputs.get_shape().as_list()[1]
    with tf.variable_scope(name):
        kernel = tf.get_variable("kernel", [channels, units], tf.float32,
                                 tf.variance_scaling_initializer())
        bias = tf.get_variable("bias", [units], tf.float32, tf.zeros_initializer())
    return tf.nn.bias_add(tf.matmul(inputs, kernel), bias)


def bottleneck_block(inputs, width, out_filters, stride, cardinality, training, group_conv_impl,
                     padding="same", epsilon=BATCH_NORM_EPSILON):
    """One ResNeXt block: [N, H, W, C_in] -> [N, H/stride, W/stride, out_filters]."""
    in_filters = inputs.get_shape().as_list()[3]
    if in_filters == out_filters and stride == 1:
        shortcut = inputs
    else:   # a 1x1 kernel: SAME and symmetric padding are both none
        shortcut = conv2d(inputs, out_filters, 1, stride, name="shortcut_conv")
        shortcut = batch_norm(shortcut, training, name="shortcut_bn", epsilon=epsilon)

    x = conv2d(inputs, width, 1, 1, name="conv1")
    x = tf.nn.relu(batch_norm(x, training, name="bn1", epsilon=epsilon))

    with tf.variable_scope("conv2"):
        kernel = tf.get_variable("kernel", shape=[3, 3, width // cardinality, width],
                                 dtype=tf.float32, initializer=tf.glorot_uniform_initializer())
    x = grouped_conv2d(x, kernel, stride, cardinality, group_conv_impl, padding)
    x = tf.nn.relu(batch_norm(x, training, name="bn2", epsilon=epsilon))

    x = conv2d(x, out_filters, 1, 1, name="conv3")
    x = batch_norm(x, training, name="bn3", zero_gamma=True, epsilon=epsilon)
    return tf.nn.relu(x + shortcut)


def resnext_logits(images, num_classes, training, config=None, group_conv_impl="auto"):
    """ResNeXt forward pass.

    images: [N, S, S, 3] float32, normalised (S >= 32; 224 for ImageNet).
    Returns logits [N, num_classes] float32. Variables are created under `fp32_vars/`.
    """
    config = config or ResNextConfig()
    impl = resolve_group_conv_impl(group_conv_impl)
    epsilon = config.batch_norm_epsilon
    with tf.variable_scope(MODEL_SCOPE):
        with tf.variable_scope("stem"):
            x = pad_symmetric(images, 3)
            x = conv2d(x, config.stem_filters, 7, 2, name="conv", padding="VALID")
            x = tf.nn.relu(batch_norm(x, training, name="bn", epsilon=epsilon))
            if config.padding == "symmetric":
                # zeros are -inf here: the input is a ReLU's (>= 0) and every window has a pixel
                x = tf.nn.max_pool(pad_symmetric(x, 1), ksize=[1, 3, 3, 1],
                                   strides=[1, 2, 2, 1], padding="VALID")
            else:
                x = tf.nn.max_pool(x, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME")
        for stage, (blocks, width) in enumerate(zip(config.layer_counts, config.widths)):
            for block in range(blocks):
                stride = 2 if (block == 0 and stage > 0) else 1
                with tf.variable_scope("stage%d/block%d" % (stage + 1, block)):
                    x = bottleneck_block(x, width, width * config.expansion, stride,
                                         config.cardinality, training, impl, config.padding,
                                         epsilon)
        x = tf.reduce_mean(x, axis=[1, 2], name="final_reduce_mean")  # [N, C_final]
        logits = dense(x, num_classes, name="dense")
    return tf.identity(logits, name="final_dense")


def variable_shapes(config, num_classes):
    """{name: shape tuple} of every model variable (trainable and BN moving statistics) of the
    network `config` with `num_classes` classes, from a graph built for the purpose."""
    with tf.Graph().as_default():
        resnext_logits(tf.zeros([1, MIN_IMAGE_SIZE, MIN_IMAGE_SIZE, 3]), num_classes,
                       training=False, config=config, group_conv_impl="split")
        return {v.op.name: tuple(v.shape.as_list()) for v in tf.global_variables()}


def count_parameters(variables):
    """Total number of scalars in `variables`."""
    return int(sum(np.prod(v.get_shape().as_list()) for v in variables))


def is_weight_decay_variable(variable):
    """Weight decay applies to conv and dense kernels, never to BN gamma/beta or biases."""
    name = variable.op.name
    return not (name.endswith("/beta") or name.endswith("/gamma") or name.endswith("/bias"))
