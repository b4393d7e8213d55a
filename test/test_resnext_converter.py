"""ResNext50/build_imagenet_data.py: folder of class sub-folders -> ImageNet-format TFRecords."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from PIL import Image

from conftest import REPO_ROOT, python_env
from ResNext50 import build_imagenet_data

tf.disable_eager_execution()


def make_tree(root, layout):
    """layout: {class: [(filename, image uint8 [h, w] or [h, w, 3])]} -> files written with PIL."""
    written = {}
    for cls, files in layout.items():
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for name, image in files:
            path = os.path.join(root, cls, name)
            if name.lower().endswith((".jpg", ".jpeg")):
                Image.fromarray(image).save(path, format="JPEG", quality=95)
            else:
                Image.fromarray(image).save(path)
            written[(cls, name)] = image
    return written


def read_records(folder, split):
    paths = sorted(p for p in os.listdir(folder) if p.startswith(split + "-"))
    records = []
    for path in paths:
        for raw in tf.python_io.tf_record_iterator(os.path.join(folder, path)):
            records.append(tf.train.Example.FromString(raw))
    return paths, records


def feature(example, key):
    f = example.features.feature[key]
    return f.bytes_list.value or f.int64_list.value or f.float_list.value


def decode(jpeg):
    graph = tf.Graph()
    with graph.as_default(), tf.Session() as sess:
        return sess.run(tf.image.decode_jpeg(jpeg, channels=3))


def smooth_image(h, w, seed, channels=3):
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    planes = [np.clip(127 + 100 * np.sin(xx / (8.0 + c + rng.rand()) + yy / 11.0), 0, 255)
              for c in range(channels)]
    image = np.stack(planes, axis=2).astype(np.uint8)
    return image[:, :, 0] if channels == 1 else image


def test_round_trip_png_and_jpeg_rgb_and_grey(tmp_path):
    train = str(tmp_path / "train")
    val = str(tmp_path / "val")
    written = make_tree(train, {
        "cat": [("a.png", smooth_image(20, 30, 0)), ("b.JPG", smooth_image(24, 16, 1))],
        "dog": [("c.png", smooth_image(18, 18, 2, channels=1))],
        "emu": [("d.jpeg", smooth_image(22, 22, 3, channels=1)), ("e.png", smooth_image(9, 40, 4))],
    })
    with open(os.path.join(train, "dog", "notes.txt"), "w") as f:   # not an image: skipped
        f.write("ignored")
    make_tree(val, {"dog": [("v.png", smooth_image(16, 16, 5))]})
    out = str(tmp_path / "records")
    info = build_imagenet_data.convert(out, train, val, train_shards=2, validation_shards=3,
                                       progress_stream=open(os.devnull, "w"))
    assert info["classes"] == ["cat", "dog", "emu"] and info["label_offset"] == 1
    assert info["splits"] == {"train": {"num_examples": 5, "num_shards": 2},
                              "validation": {"num_examples": 1, "num_shards": 1}}
    with open(os.path.join(out, "dataset_info.json")) as f:
        assert json.load(f) == info
    with open(os.path.join(out, "labels.txt")) as f:
        assert f.read().split() == ["cat", "dog", "emu"]
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]

    paths, records = read_records(out, "train")
    assert paths == ["train-00000-of-00002", "train-00001-of-00002"]
    seen = set()
    for example in records:
        synset = feature(example, "image/class/synset")[0].decode()
        name = feature(example, "image/filename")[0].decode()
        label = feature(example, "image/class/label")[0]
        assert label == 1 + ["cat", "dog", "emu"].index(synset)
        assert feature(example, "image/format")[0] == b"JPEG"
        assert list(feature(example, "image/object/bbox/xmin")) == []
        jpeg = feature(example, "image/encoded")[0]
        # what the converter read: the PNG's pixels, or the source JPEG as decoded
        original = np.asarray(Image.open(os.path.join(train, synset, name)).convert("RGB"))
        image = decode(jpeg)
        assert image.shape == original.shape
        assert (feature(example, "image/height")[0], feature(example, "image/width")[0]) == image.shape[:2]
        assert np.abs(image.astype(int) - original.astype(int)).mean() < 4.0   # JPEG, quality 95
        if name == "b.JPG":   # an RGB JPEG is stored byte for byte
            with open(os.path.join(train, synset, name), "rb") as f:
                assert f.read() == jpeg
        seen.add((synset, name))
    assert seen == set(k for k in written)
    _, val_records = read_records(out, "validation")
    assert [feature(e, "image/class/label")[0] for e in val_records] == [2]


def test_validation_class_unknown_to_train_is_rejected(tmp_path):
    make_tree(str(tmp_path / "train"), {"a": [("x.png", smooth_image(8, 8, 0))]})
    make_tree(str(tmp_path / "val"), {"zebra": [("y.png", smooth_image(8, 8, 1))]})
    with pytest.raises(build_imagenet_data.ConversionError, match="--validation_directory=.*zebra"):
        build_imagenet_data.convert(str(tmp_path / "out"), str(tmp_path / "train"),
                                    str(tmp_path / "val"))


def test_empty_and_corrupt_inputs_are_clear_one_line_errors(tmp_path):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    bad = tmp_path / "bad" / "a"
    bad.mkdir(parents=True)
    (bad / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    env = python_env()
    cases = [
        (["--train_directory=%s" % (tmp_path / "nowhere")], "--train_directory=.*is not a directory"),
        (["--train_directory=%s" % (tmp_path / "empty")], "no JPEG/PNG images found"),
        (["--train_directory=%s" % (tmp_path / "bad")], "cannot decode image .*broken.jpg"),
    ]
    procs = [subprocess.Popen([sys.executable, "-m", "ResNext50.build_imagenet_data",
                               "--output_directory=%s" % (tmp_path / "out")] + args,
                              cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args, _ in cases]
    for proc, (_, pattern) in zip(procs, cases):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in err
        assert re.search(pattern, errors[0]), errors[0]
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")   # nothing half-made
