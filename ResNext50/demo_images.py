"""Embedded image data for ResNext50: scikit-learn's digits as ImageNet-format TFRecords.

scikit-learn ships the UCI optical-recognition digits: 1,797 real 8x8 grey images of handwritten
digits (16 levels), 10 classes. They are upscaled to 32x32 (bilinear), drawn dark-on-white in
RGB, saved as PNG files in class sub-folders (`0` .. `9`) and written through the ResNext50
converter (`ResNext50/build_imagenet_data.py`, PNG -> JPEG inside a TF graph) as
`train-0000N-of-00004` (1,497 images) and `validation-00000-of-00001` (300 images: every 6th
image, so every class is in both) with labels 1..10, `labels.txt` and `dataset_info.json`.
Train with `--num_classes=10 --label_offset=1`.
"""

import os
import shutil
import sys

import numpy as np

from common import demo_data
from common.demo_data.__main__ import main as demo_main

IMAGE_SIZE = 32
VALIDATION_EVERY = 6


def digit_images(image_size=IMAGE_SIZE):
    """(images uint8 [1797, S, S, 3], labels int [1797]) of scikit-learn's digits, upscaled."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = []
    for pixels in digits.images:  # [8, 8] float in 0..16, 16 = ink
        grey = np.uint8(np.round(255.0 - pixels * (255.0 / 16.0)))
        big = Image.fromarray(grey, mode="L").resize((image_size, image_size), Image.BILINEAR)
        images.append(np.repeat(np.asarray(big)[:, :, None], 3, axis=2))
    return np.stack(images), np.asarray(digits.target)


def make_digits_tfrecords(folder, image_size=IMAGE_SIZE):
    """Fill `folder` with the digits as ImageNet-format TFRecords (see module docstring)."""
    from PIL import Image

    from ResNext50 import build_imagenet_data

    images, labels = digit_images(image_size)
    source = os.path.join(folder, "_png")
    for index, (image, label) in enumerate(zip(images, labels)):
        split = "validation" if index % VALIDATION_EVERY == 0 else "train"
        class_dir = os.path.join(source, split, str(label))
        os.makedirs(class_dir, exist_ok=True)
        Image.fromarray(image).save(os.path.join(class_dir, "digit_%04d.png" % index))
    build_imagenet_data.convert(folder, train_directory=os.path.join(source, "train"),
                                validation_directory=os.path.join(source, "validation"),
                                train_shards=4, validation_shards=1)
    shutil.rmtree(source)
    return folder


demo_data.register("resnext_digits", make_digits_tfrecords,
                   "scikit-learn's 1,797 digit images as ImageNet-format TFRecords")

if __name__ == "__main__":
    sys.exit(demo_main(sys.argv[1:]))
