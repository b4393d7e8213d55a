"""Convert folders of class sub-folders of JPEG/PNG images into ImageNet-format TFRecords.

    python -m ResNext50.build_imagenet_data --train_directory=DIR [--validation_directory=DIR] \
        --output_directory=OUT [--train_shards=8] [--validation_shards=2]

DIR/<class name>/*.{jpg,jpeg,png} (any case). Classes are the sorted sub-folder names of the train
folder (or the lines of --labels_file); class i (0-based) is stored as label i + 1, ImageNet's
convention (0 = background), so training reads it with --label_offset=1. Validation folders must
use the same class names.

Output, in OUT:
    train-00000-of-00008 ...       TFRecords of tf.train.Example with the features of TensorFlow's
    validation-00000-of-00002 ...  build_imagenet_data.py: image/encoded (JPEG), image/format,
                                   image/height, image/width, image/channels, image/colorspace,
                                   image/class/label, image/class/synset, image/class/text,
                                   image/filename, image/object/bbox/* (empty)
    labels.txt                     class names, line i = label i + 1
    dataset_info.json              classes, label offset, examples and shards per split
Every file is written under a temporary name and renamed when complete. JPEGs that are already
3-channel are stored as they are; PNGs and grey/CMYK JPEGs are decoded and re-encoded as RGB JPEG
inside a TensorFlow graph (tf.image). Progress goes to stderr.
"""

import argparse
import json
import os
import random
import sys
import time

import tensorflow.compat.v1 as tf

from common import atomic_io

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
LABEL_OFFSET = 1


class ConversionError(ValueError):
    """Unusable input for the converter; reported as one line naming the flag or file."""


def list_classes(directory, flag_name):
    if not directory or not os.path.isdir(directory):
        raise ConversionError("%s=%s is not a directory" % (flag_name, directory))
    classes = sorted(d for d in os.listdir(directory)
                     if os.path.isdir(os.path.join(directory, d)) and not d.startswith("."))
    if not classes:
        raise ConversionError("%s=%s has no class sub-folders (expected DIR/<class>/<image>.jpg)"
                              % (flag_name, directory))
    return classes


def list_images(directory, classes, flag_name):
    """[(path, class index 0-based, class name)] sorted, for every image of a known class."""
    known = {name: i for i, name in enumerate(classes)}
    unknown = sorted(set(list_classes(directory, flag_name)) - set(known))
    if unknown:
        raise ConversionError("%s=%s has class folder(s) not in the class list: %s"
                              % (flag_name, directory, ", ".join(unknown[:5])))
    entries = []
    for name in classes:
        folder = os.path.join(directory, name)
        if not os.path.isdir(folder):
            continue
        for filename in sorted(os.listdir(folder)):
            if filename.lower().endswith(IMAGE_EXTENSIONS):
                entries.append((os.path.join(folder, filename), known[name], name))
    if not entries:
        raise ConversionError("no JPEG/PNG images found in the class sub-folders of %s=%s"
                              % (flag_name, directory))
    return entries


class ImageCoder(object):
    """Decodes JPEG/PNG bytes and re-encodes to RGB JPEG when needed, in one small TF graph."""

    def __init__(self, quality=95):
        self._graph = tf.Graph()
        with self._graph.as_default():
            self._contents = tf.placeholder(tf.string, [])
            self._is_jpeg = tf.image.is_jpeg(self._contents)
            image = tf.image.decode_image(self._contents, channels=3, expand_animations=False)
            self._shape = tf.shape(image)
            self._jpeg = tf.image.encode_jpeg(image, format="rgb", quality=quality)
            self._native_channels = tf.image.extract_jpeg_shape(self._contents)[2]
        self._sess = tf.Session(graph=self._graph, config=tf.ConfigProto(device_count={"GPU": 0}))

    def to_rgb_jpeg(self, contents, path):
        """(jpeg bytes, height, width) for the file contents; ConversionError if undecodable."""
        try:
            is_jpeg = self._sess.run(self._is_jpeg, {self._contents: contents})
            if is_jpeg and self._sess.run(self._native_channels, {self._contents: contents}) == 3:
                shape = self._sess.run(self._shape, {self._contents: contents})
                return contents, int(shape[0]), int(shape[1])
            jpeg, shape = self._sess.run([self._jpeg, self._shape], {self._contents: contents})
            return jpeg, int(shape[0]), int(shape[1])
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as exc:
            raise ConversionError("cannot decode image %s: %s" % (path, exc.message.splitlines()[0]))

    def close(self):
        self._sess.close()


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def make_example(jpeg, height, width, label, synset, filename, text=None):
    """An ImageNet-format tf.train.Example (no bounding boxes: the bbox lists are empty)."""
    feature = {
        "image/height": _int64(height),
        "image/width": _int64(width),
        "image/colorspace": _bytes(b"RGB"),
        "image/channels": _int64(3),
        "image/class/label": _int64(label),
        "image/class/synset": _bytes(synset.encode("utf-8")),
        "image/class/text": _bytes((text or synset).encode("utf-8")),
        "image/object/bbox/xmin": _floats([]),
        "image/object/bbox/ymin": _floats([]),
        "image/object/bbox/xmax": _floats([]),
        "image/object/bbox/ymax": _floats([]),
        "image/object/bbox/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[])),
        "image/format": _bytes(b"JPEG"),
        "image/filename": _bytes(os.path.basename(filename).encode("utf-8")),
        "image/encoded": _bytes(jpeg),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


class Progress(object):
    def __init__(self, split, total, num_shards, stream=None, every_sec=2.0):
        self.split, self.total, self.num_shards = split, total, num_shards
        self.stream = stream or sys.stderr
        self.every_sec = every_sec
        self.start = self.last = time.time()

    def update(self, done, shards_done, force=False):
        now = time.time()
        if not force and now - self.last < self.every_sec:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        print("[%s] %d/%d images (%.1f%%), %d/%d shards, %.0f images/s"
              % (self.split, done, self.total, 100.0 * done / self.total, shards_done,
                 self.num_shards, rate), file=self.stream, flush=True)


def write_split(entries, output_directory, split, num_shards, coder, progress_stream=None):
    """Write entries [(path, class index, class name)] as `num_shards` shards; returns count."""
    num_shards = max(1, min(num_shards, len(entries)))
    progress = Progress(split, len(entries), num_shards, progress_stream)
    bounds = [len(entries) * i // num_shards for i in range(num_shards + 1)]
    done = 0
    for shard in range(num_shards):
        name = "%s-%05d-of-%05d" % (split, shard, num_shards)
        final_path = os.path.join(output_directory, name)
        with atomic_io.replacing(final_path) as tmp_path, \
                tf.python_io.TFRecordWriter(tmp_path) as writer:
                for path, index, synset in entries[bounds[shard]:bounds[shard + 1]]:
                    with open(path, "rb") as f:
                        contents = f.read()
                    jpeg, height, width = coder.to_rgb_jpeg(contents, path)
                    example = make_example(jpeg, height, width, index + LABEL_OFFSET, synset, path)
                    writer.write(example.SerializeToString())
                    done += 1
                    progress.update(done, shard)
    progress.update(done, num_shards, force=True)
    return done


def convert(output_directory, train_directory=None, validation_directory=None, train_shards=8,
            validation_shards=2, labels_file=None, jpeg_quality=95, seed=0, progress_stream=None):
    """Convert the given folders; returns the dataset_info dict (also written as JSON)."""
    if not train_directory and not validation_directory:
        raise ConversionError("give --train_directory and/or --validation_directory")
    if labels_file:
        if not os.path.isfile(labels_file):
            raise ConversionError("--labels_file=%s does not exist" % labels_file)
        with open(labels_file) as f:
            classes = [line.strip() for line in f if line.strip()]
        if not classes:
            raise ConversionError("--labels_file=%s lists no class" % labels_file)
    elif train_directory:
        classes = list_classes(train_directory, "--train_directory")
    else:
        classes = list_classes(validation_directory, "--validation_directory")
    splits = []
    if train_directory:
        splits.append(("train", list_images(train_directory, classes, "--train_directory"),
                       train_shards))
    if validation_directory:
        splits.append(("validation",
                       list_images(validation_directory, classes, "--validation_directory"),
                       validation_shards))
    os.makedirs(output_directory, exist_ok=True)
    coder = ImageCoder(quality=jpeg_quality)
    info = {"format": "imagenet-tfrecord", "num_classes": len(classes),
            "label_offset": LABEL_OFFSET, "classes": classes, "splits": {}}
    try:
        for split, entries, shards in splits:
            random.Random(seed).shuffle(entries)  # mix the classes across shards
            count = write_split(entries, output_directory, split, shards, coder, progress_stream)
            info["splits"][split] = {"num_examples": count,
                                     "num_shards": max(1, min(shards, len(entries)))}
    finally:
        coder.close()
    atomic_io.write_text(os.path.join(output_directory, "labels.txt"), "\n".join(classes) + "\n")
    atomic_io.write_text(os.path.join(output_directory, "dataset_info.json"),
                      json.dumps(info, indent=1) + "\n")
    return info


def read_dataset_info(data_dir):
    """dataset_info.json of a converted folder, or None when there is none."""
    path = os.path.join(data_dir, "dataset_info.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train_directory", help="folder of class sub-folders (training images)")
    parser.add_argument("--validation_directory", help="folder of class sub-folders (validation)")
    parser.add_argument("--output_directory", required=True, help="where the TFRecords go")
    parser.add_argument("--train_shards", type=int, default=8)
    parser.add_argument("--validation_shards", type=int, default=2)
    parser.add_argument("--labels_file", help="class names, one a line (default: sorted folders)")
    parser.add_argument("--jpeg_quality", type=int, default=95)
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffle across shards")
    args = parser.parse_args(argv)
    if args.train_shards < 1 or args.validation_shards < 1:
        print("error: --train_shards and --validation_shards must be >= 1", file=sys.stderr)
        return 1
    try:
        info = convert(args.output_directory, args.train_directory, args.validation_directory,
                       args.train_shards, args.validation_shards, args.labels_file,
                       args.jpeg_quality, args.seed)
    except ConversionError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    print("wrote %s: %d classes, %s" % (args.output_directory, info["num_classes"], ", ".join(
        "%s %d images" % (k, v["num_examples"]) for k, v in sorted(info["splits"].items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
