"""ResNext50/run_resnext50.py end to end on the embedded digits (reduced ResNeXt: configs/resnext_tiny.json,
the same code path with 1 block per stage): learning, step lines, eval table, results JSON,
--restore_path/--restore_exclude, and one-line errors for bad input."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import REPO_ROOT, python_env
from ResNext50 import build_imagenet_data

RUN = os.path.join(REPO_ROOT, "ResNext50", "run_resnext50.py")
TINY = os.path.join(REPO_ROOT, "configs", "resnext_tiny.json")
STEP_LINE = re.compile(r"^step: (\d+) epoch: [\d.]+ FPS: [\d.]+ loss: [\d.]+ total_loss: [\d.]+ lr:[\d.e+-]+$")


@pytest.fixture(scope="module")
def digits():
    from common import demo_data
    from ResNext50 import demo_images  # registers the data set
    del demo_images
    return demo_data.prepare("resnext_digits")


def tiny_flags(data_dir, model_dir, **extra):
    flags = {"data_url": data_dir, "model_dir": model_dir, "model_config": TINY, "num_classes": 10,
             "image_size": 32, "batch_size": 32, "num_epochs": 3, "warmup_epochs": 0.5,
             "learning_rate_maximum": 0.05, "min_crop_area": 0.5, "random_flip": False,
             "iterations_per_loop": 23, "precision_mode": "must_keep_origin_dtype",
             "results_json": os.path.join(model_dir, "results.json")}
    flags.update(extra)
    return ["--%s=%s" % kv for kv in flags.items()]


def start(args):
    return subprocess.Popen([sys.executable, RUN] + args, cwd=REPO_ROOT, env=python_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_training_on_embedded_digits_reaches_top1_well_above_chance(digits, tmp_path):
    code, out, err = finish(start(tiny_flags(digits, str(tmp_path / "m"), eval=True)))
    assert code == 0, err[-3000:]
    steps = [int(m.group(1)) for m in map(STEP_LINE.match, out.splitlines()) if m]
    assert steps[:3] == [0, 23, 46] and steps[-1] == 3 * (1497 // 32) - 1
    lines = out.splitlines()
    table = lines[[i for i, line in enumerate(lines) if "checkpoint_time" in line][0]:]
    assert table[0].split() == ["step", "epoch", "top1", "top5", "loss", "checkpoint_time"]
    row = table[1].split()
    assert int(row[0]) == 3 * (1497 // 32)
    with open(str(tmp_path / "m" / "results.json")) as f:
        results = json.load(f)
    top1 = results["precision_metric"]["value"]
    assert results["precision_metric"]["name"] == "Top1 Accuracy"
    assert abs(top1 - float(row[2])) < 1e-4
    assert top1 >= 0.6, "top-1 %.3f on 10 classes (chance 0.1)" % top1
    assert results["metrics"]["top5"] >= top1
    assert results["throughput_unit"] == "images/sec" and results["throughput"] > 0
    losses = [loss for _, loss in results["loss_history"]]
    assert losses[-1] < losses[0]


def test_train_and_evaluate_then_evaluate_every_kept_checkpoint(digits, tmp_path):
    model_dir = str(tmp_path / "m")
    code, out, err = finish(start(tiny_flags(digits, model_dir, mode="train_and_evaluate",
                                             num_epochs=2, epochs_between_evals=1,
                                             save_checkpoints_steps=30)))
    assert code == 0, err[-3000:]
    rows = [line.split() for line in out.splitlines() if re.match(r"^ +\d+ +\d+\.\d ", line)]
    assert [int(r[0]) for r in rows] == [46, 92]          # one row per epoch
    assert float(rows[1][2]) > 0.3                          # top-1 after 2 epochs (chance 0.1)
    code, out, err = finish(start(tiny_flags(digits, str(tmp_path / "unused"), mode="evaluate",
                                             ckpt_dir=model_dir)))
    assert code == 0, err[-3000:]
    steps = [int(line.split()[0]) for line in out.splitlines() if re.match(r"^ +\d+ +\d+\.\d ", line)]
    kept = tf.train.get_checkpoint_state(model_dir).all_model_checkpoint_paths
    assert steps == [int(p.rsplit("-", 1)[1]) for p in kept] and steps[-1] == 92
    with open(str(tmp_path / "unused" / "results.json")) as f:
        assert json.load(f)["precision_metric"]["value"] == pytest.approx(float(rows[1][2]), abs=1e-4)


def checkpoint_values(model_dir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(model_dir))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith("fp32_vars/") and "Momentum" not in name}


def five_class_subset(digits, folder):
    """The digits 0..4 (labels 1..5) as a second, 5-class data set for transfer learning."""
    os.makedirs(folder)
    for split in ("train", "validation"):
        with tf.python_io.TFRecordWriter(os.path.join(folder, split + "-00000-of-00001")) as writer:
            for path in sorted(os.listdir(digits)):
                if path.startswith(split + "-"):
                    for raw in tf.python_io.tf_record_iterator(os.path.join(digits, path)):
                        example = tf.train.Example.FromString(raw)
                        if example.features.feature["image/class/label"].int64_list.value[0] <= 5:
                            writer.write(raw)
    return folder


def test_restore_exclude_leaves_the_head_freshly_initialised(digits, tmp_path):
    five_digits = five_class_subset(digits, str(tmp_path / "five_digits"))
    source = str(tmp_path / "source")
    code, _, err = finish(start(tiny_flags(digits, source, max_train_steps=30, num_epochs=1)))
    assert code == 0, err[-3000:]
    trained = checkpoint_values(source)
    # lr 0 and no decay: one step changes no trainable value, so the checkpoint shows the start point
    frozen = {"max_train_steps": 1, "learning_rate_maximum": 0, "learning_rate_end": 0,
              "weight_decay": 0, "restore_path": source}
    runs = {"excluded": start(tiny_flags(digits, str(tmp_path / "excluded"), **frozen)),
            "all": start(tiny_flags(digits, str(tmp_path / "all"), restore_exclude="", **frozen)),
            "five": start(tiny_flags(five_digits, str(tmp_path / "five"), num_classes=5, **frozen)),
            "clash": start(tiny_flags(five_digits, str(tmp_path / "clash"), num_classes=5,
                                      restore_exclude="", **frozen))}
    results = {name: finish(proc) for name, proc in runs.items()}
    for name in ("excluded", "all", "five"):
        assert results[name][0] == 0, results[name][2][-3000:]
    assert "freshly initialised: fp32_vars/dense/kernel, fp32_vars/dense/bias" in results["excluded"][1]

    excluded = checkpoint_values(str(tmp_path / "excluded"))
    everything = checkpoint_values(str(tmp_path / "all"))
    five = checkpoint_values(str(tmp_path / "five"))
    backbone = [n for n in trained if not n.startswith("fp32_vars/dense") and "moving_" not in n]
    assert len(backbone) > 20
    for name in backbone:
        np.testing.assert_array_equal(excluded[name], trained[name])
        np.testing.assert_array_equal(five[name], trained[name])
    for name in ("fp32_vars/dense/kernel", "fp32_vars/dense/bias"):
        np.testing.assert_array_equal(everything[name], trained[name])   # control: restored
    assert np.all(excluded["fp32_vars/dense/bias"] == 0) and np.any(trained["fp32_vars/dense/bias"] != 0)
    fresh = excluded["fp32_vars/dense/kernel"]
    assert not np.allclose(fresh, trained["fp32_vars/dense/kernel"], atol=1e-3)
    # variance scaling (fan_in 512, truncated normal): std about sqrt(1/512) = 0.044
    assert 0.03 < fresh.std() < 0.09
    assert five["fp32_vars/dense/kernel"].shape == (512, 5)

    code, out, err = results["clash"]
    assert code == 1
    assert [l for l in err.splitlines() if l.startswith("error:")] == [
        l for l in err.splitlines() if re.match(r"error: --restore_path=.*source has a 10-class "
                                                r"head; this run has 5 classes: leave "
                                                r"--restore_exclude=fp32_vars/dense", l)]


def write_bad_records(folder, case):
    os.makedirs(folder)
    graph = tf.Graph()
    with graph.as_default(), tf.Session() as sess:
        jpeg = sess.run(tf.image.encode_jpeg(tf.zeros([40, 40, 3], tf.uint8)))
    height = 40
    if case == "corrupt":
        jpeg = jpeg[:20] + b"\x00" * 50
    elif case == "wrong_size":
        height = 400
    for split in ("train", "validation"):
        with tf.python_io.TFRecordWriter(os.path.join(folder, split + "-00000-of-00001")) as w:
            for _ in range(4):
                w.write(build_imagenet_data.make_example(jpeg, height, 40, 1, "a", "a.jpg")
                        .SerializeToString())


def test_bad_inputs_fail_with_one_clear_line(digits, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    write_bad_records(str(tmp_path / "corrupt"), "corrupt")
    write_bad_records(str(tmp_path / "wrong_size"), "wrong_size")
    cases = {
        "no_records": (tiny_flags(str(empty), str(tmp_path / "a")),
                       r"no TFRecords found for --data_url: nothing matches .*train-\*"),
        "corrupt": (tiny_flags(str(tmp_path / "corrupt"), str(tmp_path / "b"), max_train_steps=2),
                    r"bad input data under --data_url=.*corrupt.*JPEG"),
        "wrong_size": (tiny_flags(str(tmp_path / "wrong_size"), str(tmp_path / "c"), max_train_steps=2),
                       r"bad input data under --data_url=.*wrong image size"),
        "small_image": (tiny_flags(digits, str(tmp_path / "d"), image_size=16),
                        r"--image_size=16 is too small"),
        "bad_config": (tiny_flags(digits, str(tmp_path / "e"), model_config=str(tmp_path / "nope.json")),
                       r"model config .*nope.json does not exist"),
    }
    procs = {name: start(args) for name, (args, _) in cases.items()}
    for name, proc in procs.items():
        code, out, err = finish(proc)
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert code == 1, (name, err[-2000:])
        assert len(errors) == 1, (name, err[-2000:])
        assert "Traceback" not in err, (name, err[-2000:])
        assert re.search(cases[name][1], errors[0]), (name, errors[0])
