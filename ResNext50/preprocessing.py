"""ImageNet-format TFRecords -> batches of normalised images for ResNeXt-50.

Record features (as TensorFlow's build_imagenet_data.py writes them):
    image/encoded            JPEG bytes
    image/class/label        int64, 1..num_classes (0 is "background"); `label_offset` is
                             subtracted so the model sees 0-based labels
    image/height, image/width  int64 (optional; checked against the JPEG when present)
    image/object/bbox/{ymin,xmin,ymax,xmax}  float lists in [0, 1] (optional)

Train: distorted bounding-box crop (at least 10% of a box covered, aspect 3/4..4/3, area
16%..100% of the image, 100 attempts, whole image when it fails or has no box), decoded with
`decode_and_crop_jpeg`, bilinear resize to image_size, random left-right flip.
Eval, two pipelines (`eval_preprocessing`):
  "delivery":    JPEG decoded with TF's default (fast) DCT, bilinear resize (no antialiasing) so
                 the short side is `resize_size` (256 for 224) and the long side rounded, centre
                 crop image_size (offsets rounded down).
  "torchvision": torchvision's eval transform on a PIL image (Resize(256), CenterCrop(224)):
                 JPEG decoded with dct_method="INTEGER_ACCURATE" (bit-identical to PIL/libjpeg's
                 default), short side to `resize_size` with the long side truncated
                 (int(256 * long / short)), PIL's antialiased bilinear resize (triangle filter
                 widened by the scale, horizontal pass then vertical, each rounded to 0..255 as
                 PIL's uint8 image is), centre crop with offsets round((h - 224) / 2).
Both: per-channel (x - mean) / std with the ImageNet RGB mean/std on the 0..255 scale.

Pipeline: file list (train-* / validation-*) sharded by rank, parallel interleave of the files,
shuffle + repeat (train), parallel map, batch, prefetch.
"""

import os

import tensorflow.compat.v1 as tf

MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STDDEV_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)

MIN_OBJECT_COVERED = 0.1
ASPECT_RATIO_RANGE = (3.0 / 4.0, 4.0 / 3.0)
AREA_RANGE = (0.16, 1.0)
MAX_ATTEMPTS = 100
EVAL_CROP_FRACTION = 224.0 / 256.0
EVAL_PREPROCESSINGS = ("delivery", "torchvision")

SPLIT_PREFIXES = {"train": "train", "validation": "validation"}


class InputDataError(ValueError):
    """Missing or unusable input data; reported as one line naming the flag or file."""


def eval_resize_size(image_size):
    """Short side before the centre crop: 256 for 224, the same 0.875 ratio for other sizes."""
    return int(round(image_size / EVAL_CROP_FRACTION))


def strip_file_scheme(path):
    """The original config writes data_url as file:///path."""
    return path[len("file://"):] if path.startswith("file://") else path


def find_tfrecords(data_dir, split, flag_name="--data_url"):
    """Sorted `<split>-*` files in data_dir (train-00000-of-01024, validation-00000-of-00128, ...).

    Raises InputDataError naming the flag when the folder or the files are missing.
    """
    data_dir = strip_file_scheme(data_dir or "")
    if not data_dir:
        raise InputDataError("%s is not set: give the folder of ImageNet-format TFRecords" % flag_name)
    if not tf.gfile.IsDirectory(data_dir):
        raise InputDataError("%s=%s is not a directory" % (flag_name, data_dir))
    pattern = os.path.join(data_dir, SPLIT_PREFIXES[split] + "-*")
    files = sorted(f for f in tf.gfile.Glob(pattern) if not os.path.basename(f).startswith("."))
    if not files:
        raise InputDataError("no TFRecords found for %s: nothing matches %s (expected ImageNet-format "
                             "files like %s-00000-of-01024)" % (flag_name, pattern, SPLIT_PREFIXES[split]))
    return files


def parse_record(serialized):
    """Scalar string -> (jpeg bytes [], label int32 [] (as stored), bbox float32 [1, K, 4]
    as (ymin, xmin, ymax, xmax), height int64 [], width int64 [] (-1 when absent))."""
    features = {
        "image/encoded": tf.FixedLenFeature([], tf.string, default_value=""),
        "image/class/label": tf.FixedLenFeature([], tf.int64, default_value=-1),
        "image/height": tf.FixedLenFeature([], tf.int64, default_value=-1),
        "image/width": tf.FixedLenFeature([], tf.int64, default_value=-1),
    }
    for key in ("ymin", "xmin", "ymax", "xmax"):
        features["image/object/bbox/" + key] = tf.VarLenFeature(tf.float32)
    parsed = tf.parse_single_example(serialized, features)
    coords = [tf.sparse_tensor_to_dense(parsed["image/object/bbox/" + k])
              for k in ("ymin", "xmin", "ymax", "xmax")]
    bbox = tf.expand_dims(tf.stack(coords, axis=1), 0)  # [1, K, 4]
    label = tf.cast(parsed["image/class/label"], tf.int32)
    return (parsed["image/encoded"], label, bbox, parsed["image/height"], parsed["image/width"])


def checked_jpeg_shape(image_bytes, height=None, width=None):
    """[3] int32 (h, w, c) of a JPEG, failing with a clear message when the bytes are not a JPEG
    or the record's image/height x image/width disagree with it."""
    is_jpeg = tf.Assert(tf.image.is_jpeg(image_bytes),
                        ["corrupt record: image/encoded is not a JPEG image"])
    with tf.control_dependencies([is_jpeg]):
        shape = tf.image.extract_jpeg_shape(image_bytes)
    if height is None:
        return shape
    declared = tf.cast(tf.stack([height, width]), tf.int32)
    agrees = tf.logical_or(tf.reduce_any(declared < 0), tf.reduce_all(tf.equal(declared, shape[:2])))
    check = tf.Assert(agrees, ["wrong image size: record says image/height x image/width =",
                               declared, "but the JPEG is", shape[:2]], summarize=4)
    with tf.control_dependencies([check]):
        return tf.identity(shape)


def sample_crop_window(image_shape, bbox, seed=None, min_area=AREA_RANGE[0]):
    """Distorted bounding-box crop window [4] int32: (offset_y, offset_x, height, width).

    image_shape: [3] int32 (h, w, c); bbox: [1, K, 4] float (ymin, xmin, ymax, xmax), K may be 0
    (then the whole image is the box). The crop covers min_area..100% of the image.
    """
    whole_image = tf.constant([[[0.0, 0.0, 1.0, 1.0]]], tf.float32)
    bbox = tf.cond(tf.shape(bbox)[1] > 0, lambda: bbox, lambda: whole_image)
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        image_shape, bounding_boxes=bbox, min_object_covered=MIN_OBJECT_COVERED,
        aspect_ratio_range=ASPECT_RATIO_RANGE, area_range=(min_area, AREA_RANGE[1]),
        max_attempts=MAX_ATTEMPTS,
        use_image_if_no_bounding_boxes=True, seed=seed)
    offset_y, offset_x, _ = tf.unstack(begin)
    crop_h, crop_w, _ = tf.unstack(size)
    return tf.stack([offset_y, offset_x, crop_h, crop_w])


def resize_bilinear(image, height, width):
    """[h, w, 3] any dtype -> [height, width, 3] float32 (half-pixel centres, as TF2's resize)."""
    images = tf.expand_dims(tf.cast(image, tf.float32), 0)
    return tf.image.resize_bilinear(images, tf.stack([height, width]), align_corners=False,
                                    half_pixel_centers=True)[0]


def normalize(image):
    """[..., 3] 0..255 -> float32 (x - MEAN_RGB) / STDDEV_RGB."""
    mean = tf.constant(MEAN_RGB, tf.float32)
    std = tf.constant(STDDEV_RGB, tf.float32)
    return (tf.cast(image, tf.float32) - mean) / std


def preprocess_for_train(image_bytes, bbox, image_size, random_flip=True, seed=None,
                         height=None, width=None, min_area=AREA_RANGE[0]):
    """JPEG bytes -> [image_size, image_size, 3] float32 normalised, randomly cropped/flipped."""
    shape = checked_jpeg_shape(image_bytes, height, width)
    window = sample_crop_window(shape, bbox, seed=seed, min_area=min_area)
    image = tf.image.decode_and_crop_jpeg(image_bytes, window, channels=3)
    image = resize_bilinear(image, image_size, image_size)
    if random_flip:
        image = tf.image.random_flip_left_right(image, seed=None if seed is None else seed + 1)
    image = normalize(image)
    image.set_shape([image_size, image_size, 3])
    return image


def resize_short_side_and_centre_crop(image, image_size, resize_size):
    """[h, w, 3] -> [image_size, image_size, 3] float32: bilinear resize so that
    min(h, w) == resize_size (aspect kept), then the centred image_size square."""
    shape = tf.shape(image)
    h = tf.cast(shape[0], tf.float32)
    w = tf.cast(shape[1], tf.float32)
    scale = float(resize_size) / tf.minimum(h, w)
    new_h = tf.cast(tf.round(h * scale), tf.int32)
    new_w = tf.cast(tf.round(w * scale), tf.int32)
    image = resize_bilinear(image, new_h, new_w)
    offset_y = (new_h - image_size) // 2
    offset_x = (new_w - image_size) // 2
    return tf.slice(image, tf.stack([offset_y, offset_x, 0]), [image_size, image_size, 3])


def _antialiased_pass(images, height, width):
    """[1, h, w, 3] float32 -> [1, height, width, 3]: triangle filter widened by the scale when
    shrinking (PIL's bilinear), rounded half up and clipped to 0..255 as PIL's uint8 result."""
    size = tf.stack([height, width])
    scale = tf.cast(size, tf.float32) / tf.cast(tf.shape(images)[1:3], tf.float32)
    resized = tf.raw_ops.ScaleAndTranslate(images=images, size=size, scale=scale,
                                           translation=tf.zeros([2], tf.float32),
                                           kernel_type="triangle", antialias=True)
    return tf.floor(tf.clip_by_value(resized, 0.0, 255.0) + 0.5)


def resize_like_pil(image, height, width):
    """[h, w, 3] -> [height, width, 3] float32 with integer values: PIL's Image.resize(...,
    BILINEAR) (what torchvision's Resize does to a PIL image): the horizontal pass, rounded,
    then the vertical one, rounded. Measured on scikit-learn's sample photos: 99.8% of the
    values equal PIL's, the rest differ by 1 (PIL's fixed-point filter coefficients)."""
    images = tf.expand_dims(tf.cast(image, tf.float32), 0)
    images = _antialiased_pass(images, tf.shape(images)[1], width)
    return _antialiased_pass(images, height, width)[0]


def torchvision_resize_and_centre_crop(image, image_size, resize_size):
    """[h, w, 3] -> [image_size, image_size, 3] float32, as torchvision's
    Resize(resize_size) + CenterCrop(image_size) on a PIL image: short side to resize_size,
    long side int(resize_size * long / short) (truncated), PIL bilinear, the crop offsets
    int(round((new - image_size) / 2.0)) (round half to even, as Python's round)."""
    shape = tf.shape(image)
    h = tf.cast(shape[0], tf.float64)
    w = tf.cast(shape[1], tf.float64)
    size = tf.constant(float(resize_size), tf.float64)
    long_side = tf.cast(tf.floor(size * tf.maximum(h, w) / tf.minimum(h, w)), tf.int32)
    new_h = tf.where(h <= w, resize_size, long_side)
    new_w = tf.where(h <= w, long_side, resize_size)
    image = resize_like_pil(image, new_h, new_w)

    def offset(new):
        return tf.cast(tf.round(tf.cast(new - image_size, tf.float64) / 2.0), tf.int32)

    return tf.slice(image, tf.stack([offset(new_h), offset(new_w), 0]),
                    [image_size, image_size, 3])


def preprocess_for_eval(image_bytes, image_size, resize_size=None, height=None, width=None,
                        method="delivery"):
    """JPEG bytes -> [image_size, image_size, 3] float32 normalised centre crop; `method` is one
    of EVAL_PREPROCESSINGS (see the module docstring)."""
    if method not in EVAL_PREPROCESSINGS:
        raise ValueError("--preprocessing must be one of %s, got %r"
                         % ("|".join(EVAL_PREPROCESSINGS), method))
    resize_size = resize_size or eval_resize_size(image_size)
    shape = checked_jpeg_shape(image_bytes, height, width)
    with tf.control_dependencies([shape]):
        if method == "torchvision":
            image = tf.image.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE")
        else:
            image = tf.image.decode_jpeg(image_bytes, channels=3)
    if method == "torchvision":
        image = torchvision_resize_and_centre_crop(image, image_size, resize_size)
    else:
        image = resize_short_side_and_centre_crop(image, image_size, resize_size)
    image = normalize(image)
    image.set_shape([image_size, image_size, 3])
    return image


PAD_LABEL = -1   # label of the blank images that fill the last evaluation batch


def check_label(label, label_offset, num_classes):
    """Stored label -> 0-based int32 label, failing clearly when outside [0, num_classes)."""
    label = label - label_offset
    ok = tf.logical_and(label >= 0, label < num_classes)
    check = tf.Assert(ok, ["label out of range: image/class/label minus --label_offset=%d is" % label_offset,
                           label, "but --num_classes=%d" % num_classes])
    with tf.control_dependencies([check]):
        return tf.identity(label)


def build_dataset(files, is_training, batch_size, image_size, num_classes, label_offset=1,
                  rank_size=1, rank_id=0, random_flip=True, shuffle_buffer=10000,
                  num_parallel_calls=None, repeat=None, drop_remainder=None, seed=None,
                  min_crop_area=AREA_RANGE[0], eval_preprocessing="delivery"):
    """tf.data pipeline yielding (images [B, S, S, 3] float32, labels [B] int32), B static.

    Sharding: by file when there are at least rank_size files, else by record.
    repeat defaults to is_training. Batches always have the static size B (the NPU compiles one
    shape): training drops the remainder; evaluation (drop_remainder left None) pads the last batch
    with blank images labelled PAD_LABEL (-1), which the metrics weigh 0 (`real_example_weights`).
    drop_remainder=False keeps a short last batch instead. num_parallel_calls defaults to AUTOTUNE.
    eval_preprocessing: "delivery" or "torchvision" (evaluation only; see preprocess_for_eval).
    """
    autotune = tf.data.experimental.AUTOTUNE
    parallel = num_parallel_calls or autotune
    repeat = is_training if repeat is None else repeat
    shard_files = len(files) >= rank_size
    dataset = tf.data.Dataset.from_tensor_slices(list(files))
    if rank_size > 1 and shard_files:
        dataset = dataset.shard(rank_size, rank_id)
    if is_training:
        dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                                 block_length=1, num_parallel_calls=parallel)
    if rank_size > 1 and not shard_files:
        dataset = dataset.shard(rank_size, rank_id)
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    if repeat:
        dataset = dataset.repeat()

    def parse_and_preprocess(serialized):
        image_bytes, label, bbox, height, width = parse_record(serialized)
        if is_training:
            image = preprocess_for_train(image_bytes, bbox, image_size, random_flip=random_flip,
                                         seed=seed, height=height, width=width,
                                         min_area=min_crop_area)
        else:
            image = preprocess_for_eval(image_bytes, image_size, height=height, width=width,
                                        method=eval_preprocessing)
        return image, check_label(label, label_offset, num_classes)

    dataset = dataset.map(parse_and_preprocess, num_parallel_calls=parallel)
    if drop_remainder is None and not is_training and not repeat:
        # batch_size - 1 blanks after the data: the last real batch is filled, the rest dropped.
        blanks = tf.data.Dataset.from_tensors(
            (tf.zeros([image_size, image_size, 3], tf.float32), tf.constant(PAD_LABEL, tf.int32)))
        dataset = dataset.concatenate(blanks.repeat(batch_size - 1))
        drop_remainder = True
    dataset = dataset.batch(batch_size, drop_remainder=bool(drop_remainder or is_training))
    return dataset.prefetch(autotune)


def real_example_weights(labels):
    """1.0 for real examples, 0.0 for the padding of the last evaluation batch."""
    return tf.cast(tf.not_equal(labels, PAD_LABEL), tf.float32)

