"""Independent numpy reference of torchvision's ResNeXt (NCHW, torch weight layout, eval mode) and
a random state dict in torchvision's layout, for the converter tests. Written from torchvision's
definition (conv 7x7/2 pad 3, max-pool 3x3/2 pad 1, bottleneck 1x1 / grouped 3x3 (stride,
pad 1) / 1x1, downsample 1x1/stride + BN, BN eps 1e-5, global average pool, fc), nothing shared
with ResNext50/."""
import json
import struct

import numpy as np

BN_EPS = 1e-5


def random_state_dict(seed=0, layers=(1, 1, 1, 1), widths=(32, 64, 128, 256), groups=8,
                      expansion=2, stem=16, classes=7):
    """{torch name: array} with He-scaled convs and non-trivial BN statistics (float32)."""
    rng = np.random.RandomState(seed)
    sd = {}

    def conv(name, out, cin, k):
        sd[name + ".weight"] = (rng.randn(out, cin, k, k) * np.sqrt(2.0 / (cin * k * k))
                                ).astype(np.float32)

    def bn(name, c):
        sd[name + ".weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        sd[name + ".bias"] = (0.1 * rng.randn(c)).astype(np.float32)
        sd[name + ".running_mean"] = (0.1 * rng.randn(c)).astype(np.float32)
        sd[name + ".running_var"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        sd[name + ".num_batches_tracked"] = np.array(100, np.int64)

    conv("conv1", stem, 3, 7)
    bn("bn1", stem)
    cin = stem
    for s, (blocks, width) in enumerate(zip(layers, widths), 1):
        out = width * expansion
        for b in range(blocks):
            p = "layer%d.%d." % (s, b)
            conv(p + "conv1", width, cin, 1)
            bn(p + "bn1", width)
            conv(p + "conv2", width, width // groups, 3)
            bn(p + "bn2", width)
            conv(p + "conv3", out, width, 1)
            bn(p + "bn3", out)
            if b == 0:
                conv(p + "downsample.0", out, cin, 1)
                bn(p + "downsample.1", out)
            cin = out
    sd["fc.weight"] = (rng.randn(classes, cin) / np.sqrt(cin)).astype(np.float32)
    sd["fc.bias"] = (0.1 * rng.randn(classes)).astype(np.float32)
    return sd


def conv2d(x, w, stride, pad, groups=1):
    """NCHW x, OIHW w (I = C / groups), zero padding `pad` on every side."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    xg = x.reshape(n, groups, c // groups, x.shape[2], x.shape[3])
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    out = np.zeros((n, groups, o // groups, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xg[:, :, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
            out += np.einsum("ngchw,goc->ngohw", patch, wg[:, :, :, i, j])
    return out.reshape(n, o, oh, ow)


def batch_norm(x, sd, name):
    scale = sd[name + ".weight"] / np.sqrt(sd[name + ".running_var"] + BN_EPS)
    shift = sd[name + ".bias"] - sd[name + ".running_mean"] * scale
    return x * scale[None, :, None, None] + shift[None, :, None, None]


def max_pool_3x3_s2_p1(x):
    n, c, h, w = x.shape
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    oh, ow = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    out = np.full((n, c, oh, ow), -np.inf)
    for i in range(3):
        for j in range(3):
            out = np.maximum(out, x[:, :, i:i + 2 * (oh - 1) + 1:2, j:j + 2 * (ow - 1) + 1:2])
    return out


def forward(sd, images_nhwc, groups):
    """Logits [N, classes] (float64) of images [N, H, W, 3] (normalised)."""
    sd = {k: np.asarray(v, np.float64) for k, v in sd.items()}
    relu = lambda t: np.maximum(t, 0.0)  # noqa: E731
    x = np.transpose(np.asarray(images_nhwc, np.float64), (0, 3, 1, 2))
    x = max_pool_3x3_s2_p1(relu(batch_norm(conv2d(x, sd["conv1.weight"], 2, 3), sd, "bn1")))
    stage = 1
    while "layer%d.0.conv1.weight" % stage in sd:
        block = 0
        while "layer%d.%d.conv1.weight" % (stage, block) in sd:
            p = "layer%d.%d." % (stage, block)
            stride = 2 if (block == 0 and stage > 1) else 1
            y = relu(batch_norm(conv2d(x, sd[p + "conv1.weight"], 1, 0), sd, p + "bn1"))
            y = relu(batch_norm(conv2d(y, sd[p + "conv2.weight"], stride, 1, groups), sd, p + "bn2"))
            y = batch_norm(conv2d(y, sd[p + "conv3.weight"], 1, 0), sd, p + "bn3")
            if p + "downsample.0.weight" in sd:
                x = batch_norm(conv2d(x, sd[p + "downsample.0.weight"], stride, 0), sd,
                               p + "downsample.1")
            x = relu(y + x)
            block += 1
        stage += 1
    return x.mean(axis=(2, 3)) @ sd["fc.weight"].T + sd["fc.bias"]


def save_safetensors(path, tensors):
    """The file as the safetensors package writes it: with the package where it is installed,
    else by the format's definition (u64 LE header size, JSON header, little-endian data)."""
    try:
        from safetensors.numpy import save_file
    except ImportError:   # no Python 3.7 wheel
        codes = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
        header, blobs, offset = {}, [], 0
        for name in sorted(tensors):
            value = np.ascontiguousarray(tensors[name])
            raw = value.astype(value.dtype.newbyteorder("<")).tobytes()
            header[name] = {"dtype": codes[value.dtype], "shape": list(value.shape),
                            "data_offsets": [offset, offset + len(raw)]}
            blobs.append(raw)
            offset += len(raw)
        text = json.dumps(header, separators=(",", ":")).encode("utf-8")
        text += b" " * (-len(text) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
        return path
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, path)
    return path
