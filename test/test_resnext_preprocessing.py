"""ResNext50/preprocessing.py against numpy: crop windows, eval centre crop, normalisation, errors."""
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from ResNext50 import build_imagenet_data, preprocessing

tf.disable_eager_execution()

MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


def random_image(h, w, seed=0):
    return np.random.RandomState(seed).randint(0, 256, size=(h, w, 3)).astype(np.uint8)


def encode_jpeg(image):
    graph = tf.Graph()
    with graph.as_default(), tf.Session() as sess:
        return sess.run(tf.image.encode_jpeg(tf.constant(image), quality=90))


def test_normalize_matches_numpy(tf_graph):
    image = random_image(5, 4)
    with tf.Session() as sess:
        out = sess.run(preprocessing.normalize(tf.constant(image)))
    np.testing.assert_allclose(out, (image.astype(np.float32) - MEAN) / STD, rtol=1e-6, atol=1e-5)


def test_eval_centre_crop_matches_numpy_when_short_side_is_already_resize_size(tf_graph):
    image = random_image(256, 300)   # short side 256 == resize size: resize is the identity
    out_t = preprocessing.resize_short_side_and_centre_crop(tf.constant(image), 224, 256)
    with tf.Session() as sess:
        out = sess.run(out_t)
    np.testing.assert_allclose(out, image[16:240, 38:262].astype(np.float32), atol=1e-3)


@pytest.mark.parametrize("shape", [(128, 150), (300, 200)])
def test_eval_resizes_short_side_then_crops_the_centre(tf_graph, shape):
    image = random_image(*shape, seed=1)
    h, w = shape
    scale = 256.0 / min(h, w)
    new_h, new_w = int(round(h * scale)), int(round(w * scale))
    resized_t = tf.image.resize_bilinear(tf.constant(image[None].astype(np.float32)), [new_h, new_w],
                                         half_pixel_centers=True)[0]
    out_t = preprocessing.resize_short_side_and_centre_crop(tf.constant(image), 224, 256)
    with tf.Session() as sess:
        resized, out = sess.run([resized_t, out_t])
    assert min(resized.shape[:2]) == 256
    top, left = (new_h - 224) // 2, (new_w - 224) // 2
    np.testing.assert_allclose(out, resized[top:top + 224, left:left + 224], atol=1e-3)


def test_preprocess_for_eval_is_normalised_centre_crop_of_the_decoded_jpeg(tf_graph):
    jpeg = encode_jpeg(random_image(40, 48, seed=2))
    decoded_t = tf.image.decode_jpeg(jpeg, channels=3)
    out_t = preprocessing.preprocess_for_eval(tf.constant(jpeg), 32, resize_size=40)
    with tf.Session() as sess:
        decoded, out = sess.run([decoded_t, out_t])
    expected = (decoded[4:36, 8:40].astype(np.float32) - MEAN) / STD
    assert out.shape == (32, 32, 3)
    np.testing.assert_allclose(out, expected, atol=1e-3)
    assert preprocessing.eval_resize_size(224) == 256


def test_train_crop_windows_respect_area_aspect_and_image_bounds(tf_graph):
    height, width = 120, 160
    jpeg = encode_jpeg(random_image(height, width, seed=3))
    no_box = tf.zeros([1, 0, 4], tf.float32)
    window_t = preprocessing.sample_crop_window(tf.image.extract_jpeg_shape(jpeg), no_box)
    windows = []
    with tf.Session() as sess:
        for _ in range(300):
            windows.append(sess.run(window_t))
    windows = np.array(windows)
    oy, ox, h, w = windows.T
    assert np.all(oy >= 0) and np.all(ox >= 0) and np.all(h >= 1) and np.all(w >= 1)
    assert np.all(oy + h <= height) and np.all(ox + w <= width)
    area = h * w / float(height * width)
    assert area.min() >= 0.16 - 0.02 and area.max() <= 1.0
    aspect = w / h.astype(np.float64)
    assert aspect.min() >= 0.75 - 0.05 and aspect.max() <= 4.0 / 3.0 + 0.05
    assert len({tuple(x) for x in windows}) > 50   # really random


def test_train_crop_covers_at_least_a_tenth_of_the_bounding_box(tf_graph):
    height, width = 100, 100
    jpeg = encode_jpeg(random_image(height, width, seed=4))
    box = np.array([[[0.0, 0.0, 0.3, 0.3]]], np.float32)   # ymin, xmin, ymax, xmax
    window_t = preprocessing.sample_crop_window(tf.image.extract_jpeg_shape(jpeg), tf.constant(box))
    with tf.Session() as sess:
        for _ in range(100):
            oy, ox, h, w = sess.run(window_t)
            inter_h = max(0, min(oy + h, 30) - oy)
            inter_w = max(0, min(ox + w, 30) - ox)
            assert inter_h * inter_w >= 0.1 * 30 * 30 - 1


def test_train_decode_and_crop_equals_numpy_slice_then_resize_and_flip(tf_graph):
    image = random_image(60, 80, seed=5)
    jpeg = encode_jpeg(image)
    window = tf.constant([7, 11, 30, 40], tf.int32)
    cropped_t = tf.image.decode_and_crop_jpeg(jpeg, window, channels=3)
    decoded_t = tf.image.decode_jpeg(jpeg, channels=3)
    out_t = preprocessing.preprocess_for_train(tf.constant(jpeg), tf.zeros([1, 0, 4]), 32,
                                               random_flip=True, seed=9)
    with tf.Session() as sess:
        cropped, decoded = sess.run([cropped_t, decoded_t])
        outs = [sess.run(out_t) for _ in range(20)]
    np.testing.assert_array_equal(cropped, decoded[7:37, 11:51])
    assert all(o.shape == (32, 32, 3) for o in outs)
    # normalised range: (0 - mean) / std .. (255 - mean) / std
    lo, hi = (0 - MEAN) / STD, (255 - MEAN) / STD
    assert all(np.all(o >= lo - 1e-3) and np.all(o <= hi + 1e-3) for o in outs)


def test_flip_is_a_mirror_of_the_unflipped_image(tf_graph):
    image = tf.constant(random_image(32, 32, seed=6).astype(np.float32))
    flipped = tf.image.random_flip_left_right(image, seed=1)
    with tf.Session() as sess:
        base = sess.run(image)
        seen = set()
        for _ in range(20):
            out = sess.run(flipped)
            if np.array_equal(out, base):
                seen.add("same")
            else:
                np.testing.assert_array_equal(out, base[:, ::-1])
                seen.add("mirror")
    assert seen == {"same", "mirror"}


def write_records(path, examples):
    with tf.python_io.TFRecordWriter(path) as writer:
        for example in examples:
            writer.write(example.SerializeToString())


def read_all(dataset):
    next_batch = tf.data.make_one_shot_iterator(dataset).get_next()
    out = []
    with tf.Session() as sess:
        while True:
            try:
                out.append(sess.run(next_batch))
            except tf.errors.OutOfRangeError:
                return out


def test_dataset_yields_normalised_batches_with_offset_labels(tf_graph, tmp_path):
    examples = [build_imagenet_data.make_example(encode_jpeg(random_image(40, 40, seed=i)), 40, 40,
                                                 label, str(label), "x%d.jpg" % i)
                for i, label in enumerate([1, 2, 3, 1, 2])]
    write_records(str(tmp_path / "validation-00000-of-00001"), examples)
    files = preprocessing.find_tfrecords(str(tmp_path), "validation")
    batches = read_all(preprocessing.build_dataset(files, False, 2, 32, num_classes=3))
    # static batches: the last is padded with one blank image labelled PAD_LABEL
    assert [b[0].shape for b in batches] == [(2, 32, 32, 3)] * 3
    assert np.concatenate([b[1] for b in batches]).tolist() == [0, 1, 2, 0, 1,
                                                                 preprocessing.PAD_LABEL]
    assert not batches[-1][0][1].any()


def test_dataset_shards_by_rank(tf_graph, tmp_path):
    for shard in range(2):
        examples = [build_imagenet_data.make_example(encode_jpeg(random_image(32, 32)), 32, 32,
                                                     1 + shard, "c", "f.jpg")] * 3
        write_records(str(tmp_path / ("validation-%05d-of-00002" % shard)), examples)
    files = preprocessing.find_tfrecords("file://" + str(tmp_path), "validation")
    labels = []
    for rank in range(2):
        batches = read_all(preprocessing.build_dataset(files, False, 8, 32, 2, rank_size=2,
                                                       rank_id=rank))
        labels.append(sorted(l for l in np.concatenate([b[1] for b in batches]).tolist()
                             if l != preprocessing.PAD_LABEL))
    assert labels == [[0, 0, 0], [1, 1, 1]]


def test_no_tfrecords_is_a_clear_error(tmp_path):
    with pytest.raises(preprocessing.InputDataError, match=r"no TFRecords found for --data_url.*train-\*"):
        preprocessing.find_tfrecords(str(tmp_path), "train")
    with pytest.raises(preprocessing.InputDataError, match="is not a directory"):
        preprocessing.find_tfrecords(str(tmp_path / "missing"), "train")


@pytest.mark.parametrize("case,message", [
    ("not_jpeg", "image/encoded is not a JPEG"),
    ("wrong_size", "wrong image size"),
    ("truncated", "JPEG"),
    ("bad_label", "label out of range"),
])
def test_bad_records_fail_with_a_clear_message(tf_graph, tmp_path, case, message):
    jpeg = encode_jpeg(random_image(40, 40))
    label, height = 1, 40
    if case == "not_jpeg":
        jpeg = b"this is not an image at all"
    elif case == "wrong_size":
        height = 64
    elif case == "truncated":
        jpeg = jpeg[:len(jpeg) // 2]
    elif case == "bad_label":
        label = 12
    write_records(str(tmp_path / "train-00000-of-00001"),
                  [build_imagenet_data.make_example(jpeg, height, 40, label, "c", "f.jpg")])
    files = preprocessing.find_tfrecords(str(tmp_path), "train")
    dataset = preprocessing.build_dataset(files, True, 1, 32, num_classes=10)
    next_batch = tf.data.make_one_shot_iterator(dataset).get_next()
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            sess.run(next_batch)


def torchvision_eval_with_pil(jpeg_bytes, crop=224, size=256):
    """torchvision's Resize(256) + CenterCrop(224) + ToTensor + Normalize on a PIL image, written
    from torchvision's rules: short side to 256, long side int(256 * long / short), PIL bilinear;
    crop offsets int(round((h - 224) / 2.0)); (x / 255 - mean) / std. Returns HWC float."""
    import io
    from PIL import Image
    image = Image.open(io.BytesIO(jpeg_bytes)).convert("RGB")
    w, h = image.size
    if w <= h:
        new_w, new_h = size, int(size * h / w)
    else:
        new_w, new_h = int(size * w / h), size
    pixels = np.asarray(image.resize((new_w, new_h), Image.BILINEAR), np.float64)
    top, left = int(round((new_h - crop) / 2.0)), int(round((new_w - crop) / 2.0))
    pixels = pixels[top:top + crop, left:left + crop] / 255.0
    return (pixels - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])


def sample_photos():
    """scikit-learn's two JPEG photos (427x640) and a portrait crop of one, as JPEG bytes."""
    import io
    import sklearn.datasets
    from PIL import Image
    folder = os.path.join(os.path.dirname(sklearn.datasets.__file__), "images")
    photos = {}
    for name in ("china.jpg", "flower.jpg"):
        with open(os.path.join(folder, name), "rb") as f:
            photos[name] = f.read()
    portrait = Image.open(io.BytesIO(photos["flower.jpg"])).crop((101, 0, 400, 427))  # 299x427
    buffer = io.BytesIO()
    portrait.save(buffer, format="JPEG", quality=92)
    photos["flower_portrait.jpg"] = buffer.getvalue()
    return photos


def test_torchvision_eval_preprocessing_matches_pil_and_the_delivery_one_does_not(tf_graph):
    import io
    from PIL import Image
    jpeg = tf.placeholder(tf.string, [])
    outputs = {method: preprocessing.preprocess_for_eval(jpeg, 224, method=method)
               for method in preprocessing.EVAL_PREPROCESSINGS}
    accurate = tf.image.decode_jpeg(jpeg, channels=3, dct_method="INTEGER_ACCURATE")
    fast = tf.image.decode_jpeg(jpeg, channels=3)   # the delivery's
    std_levels = np.array([0.229, 0.224, 0.225]) * 255   # normalised units -> 0..255 levels
    with tf.Session() as sess:
        for name, data in sample_photos().items():
            pil = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
            decoded = sess.run({"accurate": accurate, "fast": fast}, {jpeg: data})
            np.testing.assert_array_equal(decoded["accurate"], pil)   # bit-identical decoding
            print("%s: fast decoding vs PIL mean %.2f max %d levels" % (
                name, np.abs(decoded["fast"] - pil).mean(), np.abs(decoded["fast"] - pil).max()))
            want = torchvision_eval_with_pil(data)
            got = sess.run(outputs, {jpeg: data})
            levels = {m: np.abs(v - want) * std_levels for m, v in got.items()}
            print("%s: torchvision max %.3f levels, %.2f%% differ; delivery mean %.2f max %.1f"
                  % (name, levels["torchvision"].max(), 100 * (levels["torchvision"] > 0.5).mean(),
                     levels["delivery"].mean(), levels["delivery"].max()))
            assert levels["torchvision"].max() < 1.001            # at most one level
            assert (levels["torchvision"] > 0.5).mean() < 0.01     # on under 1% of the values
            assert levels["delivery"].mean() > 2.0                 # what --preprocessing changes
    with pytest.raises(ValueError, match="--preprocessing must be one of delivery|torchvision"):
        preprocessing.preprocess_for_eval(jpeg, 224, method="pil")
