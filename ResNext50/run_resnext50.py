"""ResNeXt-50 training and evaluation on ImageNet-format TFRecords (the delivery's res50.py).

    python ResNext50/run_resnext50.py --data_url=DIR --mode=train --eval=True ...

Modes: `train` (then one evaluation with --eval=True), `evaluate` (every checkpoint kept in
--ckpt_dir), `train_and_evaluate` (evaluate every --epochs_between_evals epochs).
A step line every --iterations_per_loop steps, as the original:
    step: 1000 epoch: 0.0 FPS: 741.5 loss: 6.766 total_loss: 7.980 lr:0.1
(loss = label-smoothed cross entropy, total_loss = loss + weight decay), and an eval table:
    step  epoch    top1    top5    loss  checkpoint_time
Defaults are the delivery's: batch 32 per device, Nesterov momentum 0.9, static loss scale 1024,
linear warm-up for 5 epochs then cosine from 0.1 to 1e-6 over 120 epochs, label smoothing 0.1,
weight decay 1e-4 on conv/dense kernels only (not BN, not biases), 224x224 images, 1000 classes
(or what the converter's dataset_info.json in --data_url says). --preprocessing=torchvision
evaluates with torchvision's eval transform (for weights from ResNext50/convert_torch_checkpoint.py).
The network pads and normalises as torchvision (configs/resnext50.json: symmetric padding, BN
epsilon 1e-5); --model_config=configs/resnext50_delivery.json is the delivery's SAME and 1e-4.
"""

import datetime
import os
import sys

from absl import flags

import tensorflow.compat.v1 as tf

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run as a script from ResNext50/ (the delivery scripts do)
    sys.path.insert(0, REPO_ROOT)

from common import checkpoint_utils, cli, npu_runconfig, optimization  # noqa: E402
from common import flags as common_flags  # noqa: E402
from common.npu_compat import NPUEstimatorSpec  # noqa: E402
from common.results import RunRecorder  # noqa: E402
from common.synthetic_input import maybe_synthetic  # noqa: E402
from ResNext50 import build_imagenet_data, checkpoints, modeling, preprocessing  # noqa: E402

IMAGENET_TRAIN_IMAGES = 1281167
IMAGENET_EVAL_IMAGES = 50000
IMAGENET_CLASSES = 1000
TOP_K = 5   # top-5 is reported only with more than 5 classes (else every label is in it)

common_flags.define_common_flags(fp16_loss_scale="1024")

# The delivery's flags, original names.
flags.DEFINE_integer("rank_size", None, "Devices taking part (default: $RANK_SIZE, else 1).")
flags.DEFINE_enum("mode", "train", ["train", "evaluate", "train_and_evaluate"], "What to run.")
flags.DEFINE_integer("max_train_steps", None, "Stop after this many global steps "
                     "(default: --num_epochs worth of steps).", lower_bound=0)
flags.DEFINE_bool("eval", False, "mode=train: evaluate the final checkpoint afterwards.")
flags.DEFINE_float("num_epochs", 120, "Epochs of the learning-rate schedule (and of training "
                   "when --max_train_steps is not given).", lower_bound=0)
flags.DEFINE_string("data_url", None, "Folder of ImageNet-format TFRecords (train-*, validation-*); "
                    "file:// prefix accepted.")
flags.DEFINE_string("ckpt_dir", None, "Checkpoints to evaluate (default: --model_dir).")
flags.DEFINE_enum("lr_decay_mode", "cosine", ["cosine", "linear"],
                  "After warm-up: cosine, or linear decay to --learning_rate_end.")
flags.DEFINE_float("learning_rate_maximum", 0.1, "Learning rate at the end of warm-up.")
flags.DEFINE_float("learning_rate_end", 0.000001, "Learning rate at the end of the schedule.")
flags.DEFINE_integer("batch_size", 32, "Images per step per device.", lower_bound=1)
flags.DEFINE_float("warmup_epochs", 5, "Linear warm-up epochs.", lower_bound=0)
flags.DEFINE_float("momentum", 0.9, "Momentum.")
flags.DEFINE_integer("num_classes", None, "Classes of the classifier (default: num_classes of "
                     "the converter's dataset_info.json in --data_url, else ImageNet's 1000).",
                     lower_bound=2)
flags.DEFINE_float("label_smoothing", 0.1, "Label smoothing of the cross entropy.")
flags.DEFINE_float("weight_decay", 0.0001, "L2 weight decay on conv/dense kernels.")
flags.DEFINE_string("restore_path", None, "Checkpoint (prefix or folder) to initialise from "
                    "(transfer learning); the variables under --restore_exclude keep their "
                    "initialisers.")
flags.DEFINE_list("restore_exclude", [modeling.HEAD_SCOPE], "Variable-name prefixes not restored "
                  "from --restore_path (default: the classifier, for a different --num_classes).")
flags.DEFINE_integer("epochs_between_evals", 4, "mode=train_and_evaluate: epochs per cycle.",
                     lower_bound=1)
# This implementation's own flags.
flags.DEFINE_string("model_dir", None, "Where training writes checkpoints.")
flags.DEFINE_string("model_config", modeling.DEFAULT_CONFIG_PATH,
                    "JSON architecture config (configs/resnext50.json = ResNeXt-50 32x4d).")
flags.DEFINE_integer("image_size", 224, "Training/eval crop size (eval resizes the short side "
                     "to image_size / 0.875 first).")
flags.DEFINE_integer("label_offset", 1, "Subtracted from image/class/label (ImageNet-format "
                     "labels are 1..1000).")
flags.DEFINE_enum("group_conv", "auto", list(modeling.GROUP_CONV_IMPLS),
                  "Grouped 3x3 kernel: native grouped conv2d, split/concat, or auto (grouped on "
                  "TF 2.x and the NPU, split on TF 1.x elsewhere).")
flags.DEFINE_bool("use_nesterov", True, "Nesterov momentum (the delivery's use_nesterov).")
flags.DEFINE_bool("random_flip", True, "Random left-right flip in training.")
flags.DEFINE_float("min_crop_area", preprocessing.AREA_RANGE[0], "Smallest training crop, as a "
                   "fraction of the image (the delivery's area_range [0.16, 1.0]).",
                   lower_bound=0.01, upper_bound=1.0)
flags.DEFINE_integer("num_train_images", None, "Training-set size for epochs (default: "
                     "dataset_info.json of the converter, else ImageNet's 1281167).")
flags.DEFINE_integer("num_eval_images", None, "Validation-set size (default: dataset_info.json, "
                     "else ImageNet's 50000).")
flags.DEFINE_string("task_name", "ImageNet", "Data set name for the results JSON.")
flags.DEFINE_enum("preprocessing", "delivery", list(preprocessing.EVAL_PREPROCESSINGS),
                  "Evaluation input: the delivery's (fast JPEG decoding, bilinear resize, long side "
                  "rounded) or torchvision's Resize(256)+CenterCrop(224) on a PIL image (accurate "
                  "decoding, antialiased resize, long side truncated), for torchvision/timm weights.")

FLAGS = flags.FLAGS


UsageError = npu_runconfig.UsageError


def step_line_format(global_batch, num_train_images):
    """The original's step line from a StepLoggerHook record."""
    def line(record):
        step = record["step"]
        epoch = (step + 1) * global_batch / float(num_train_images)
        fps = record.get("examples_per_sec")
        fps = fps * global_batch / FLAGS.batch_size if fps is not None else 0.0
        text = "step: %d epoch: %.1f FPS: %.1f loss: %.3f total_loss: %.3f lr:%.6g" % (
            step, epoch, fps, record["loss"], record.get("total_loss", record["loss"]),
            record.get("lr", 0.0))
        if record.get("overflow"):
            text += " (loss-scale overflow: update skipped, scale %g)" % record.get("loss_scale", 0)
        return text
    return line


def restore_variables(restore_path, exclude):
    """Initialise the model variables (incl. BN moving statistics) from restore_path, except those
    whose name starts with a prefix in `exclude` and those the checkpoint lacks (a converted
    backbone without classifier). Returns (restored names, fresh names)."""
    model_vars = [v for v in tf.global_variables() if v.op.name.startswith(modeling.MODEL_SCOPE + "/")]
    in_checkpoint = dict(tf.train.list_variables(checkpoint_utils.resolve_checkpoint(restore_path)))
    restore = [v for v in model_vars if not checkpoints.is_excluded(v.op.name, exclude)
               and v.op.name in in_checkpoint]
    if not restore:
        raise UsageError("--restore_path=%s with --restore_exclude=%s restores no model variable"
                         % (restore_path, ",".join(exclude)))
    checkpoint_utils.init_from_checkpoint(restore_path, restore, log=False)
    restored = [v.op.name for v in restore]
    fresh = [v.op.name for v in model_vars if v not in restore]
    print("restored %d variables from %s; freshly initialised: %s"
          % (len(restored), restore_path, ", ".join(fresh) or "none"), flush=True)
    return restored, fresh


def model_fn_builder(recorder, config, num_classes, global_batch, num_train_images, total_steps,
                     warmup_steps, group_conv_impl):
    """Estimator model_fn: features [B, S, S, 3] float32 images, labels [B] int32 (0-based)."""

    def model_fn(features, labels, mode, params):
        del params
        training = mode == tf.estimator.ModeKeys.TRAIN
        logits = modeling.resnext_logits(features, num_classes, training, config, group_conv_impl)
        if training and FLAGS.restore_path:
            restore_variables(FLAGS.restore_path, FLAGS.restore_exclude)
        if mode == tf.estimator.ModeKeys.PREDICT:
            return NPUEstimatorSpec(mode, predictions={
                "classes": tf.argmax(logits, axis=1, output_type=tf.int32),
                "probabilities": tf.nn.softmax(logits)})

        weights = preprocessing.real_example_weights(labels)   # 0 on eval padding
        labels = tf.maximum(labels, 0)
        one_hot = tf.one_hot(labels, num_classes)
        cross_entropy = tf.losses.softmax_cross_entropy(one_hot, logits, weights=weights,
                                                        label_smoothing=FLAGS.label_smoothing)
        decayed = [v for v in tf.trainable_variables() if modeling.is_weight_decay_variable(v)]
        l2 = tf.add_n([tf.nn.l2_loss(v) for v in decayed])
        total_loss = tf.identity(cross_entropy + FLAGS.weight_decay * l2, name="total_loss")

        if training:
            # Weight decay is in the loss (l2 above), as the original; no clipping.
            train_op, tensors = optimization.create_optimizer(
                total_loss, FLAGS.learning_rate_maximum, total_steps, warmup_steps,
                optimizer="momentum", momentum=FLAGS.momentum, use_nesterov=FLAGS.use_nesterov,
                clip_norm=None, loss_scale=FLAGS.loss_scale, end_lr=FLAGS.learning_rate_end,
                schedule="cosine" if FLAGS.lr_decay_mode == "cosine" else "polynomial")
            train_op = tf.group(train_op, *tf.get_collection(modeling.UPDATE_OPS))
            tensors.update(total_loss=total_loss)
            hook = recorder.hook(cross_entropy, tensors,
                                 line_format=step_line_format(global_batch, num_train_images))
            return NPUEstimatorSpec(mode, loss=total_loss, train_op=train_op, training_hooks=[hook])

        predictions = tf.argmax(logits, axis=1, output_type=tf.int32)
        real = tf.reduce_sum(weights)
        metrics = {
            "top1": tf.metrics.accuracy(labels, predictions, weights=weights),
            # mean over real images: the batch mean weighted by its number of real images
            "cross_entropy": tf.metrics.mean(cross_entropy, weights=real),
        }
        if num_classes > TOP_K:
            metrics["top5"] = tf.metrics.mean(
                tf.cast(tf.nn.in_top_k(logits, labels, TOP_K), tf.float32), weights=weights)
        return NPUEstimatorSpec(mode, loss=total_loss, eval_metric_ops=metrics)

    return model_fn


class EvalTable(object):
    """Prints `step epoch top1 top5 loss checkpoint_time` rows, the header once."""

    def __init__(self, global_batch, num_train_images):
        self.global_batch = global_batch
        self.num_train_images = num_train_images
        self.rows = []

    def add(self, result, checkpoint_path):
        if not self.rows:
            print("%8s %7s %8s %8s %8s  %s" % ("step", "epoch", "top1", "top5", "loss",
                                               "checkpoint_time"), flush=True)
        step = int(result["global_step"])
        epoch = step * self.global_batch / float(self.num_train_images)
        mtime = os.path.getmtime(checkpoint_path + ".index")
        stamp = datetime.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M:%S")
        top5 = "%8.4f" % result["top5"] if "top5" in result else "%8s" % "-"
        row = (step, epoch, float(result["top1"]), top5, float(result["cross_entropy"]), stamp)
        print("%8d %7.1f %8.4f %s %8.4f  %s" % row, flush=True)
        self.rows.append(row)


def data_sizes(data_dir):
    info = build_imagenet_data.read_dataset_info(data_dir) or {}
    splits = info.get("splits", {})
    num_train = FLAGS.num_train_images or splits.get("train", {}).get("num_examples") \
        or IMAGENET_TRAIN_IMAGES
    num_eval = FLAGS.num_eval_images or splits.get("validation", {}).get("num_examples") \
        or IMAGENET_EVAL_IMAGES
    return num_train, num_eval, info


def check_flags():
    if FLAGS.image_size < modeling.MIN_IMAGE_SIZE:
        raise UsageError("--image_size=%d is too small: ResNeXt-50 downsamples by 32, use >= %d "
                         "(224 for ImageNet)" % (FLAGS.image_size, modeling.MIN_IMAGE_SIZE))
    if not FLAGS.data_url:
        raise UsageError("--data_url is required: the folder of ImageNet-format TFRecords")
    if FLAGS.mode != "evaluate" and not FLAGS.model_dir:
        raise UsageError("--model_dir is required for --mode=%s" % FLAGS.mode)
    if FLAGS.mode == "evaluate" and not (FLAGS.ckpt_dir or FLAGS.model_dir):
        raise UsageError("--mode=evaluate needs --ckpt_dir (or --model_dir)")
    if FLAGS.restore_path and not (os.path.exists(FLAGS.restore_path)
                                   or os.path.exists(FLAGS.restore_path + ".index")):
        raise UsageError("--restore_path=%s does not exist" % FLAGS.restore_path)
    if FLAGS.rank_size is not None:
        env = os.environ.get("RANK_SIZE")
        if env is not None and env != str(FLAGS.rank_size):
            raise UsageError("--rank_size=%d disagrees with RANK_SIZE=%s" % (FLAGS.rank_size, env))
        os.environ["RANK_SIZE"] = str(FLAGS.rank_size)


def evaluate_checkpoints(estimator, eval_input_fn, ckpt_dir, table, recorder):
    paths = checkpoints.kept_checkpoints(ckpt_dir)
    if not paths:
        raise UsageError("no checkpoint found in --ckpt_dir=%s" % ckpt_dir)
    result = None
    for path in paths:
        with recorder.timed("eval"):
            result = estimator.evaluate(eval_input_fn, checkpoint_path=path)
        table.add(result, path)
    return result


def run():
    tf.logging.set_verbosity(tf.logging.ERROR)  # the step lines and tables are the log
    check_flags()
    data_dir = preprocessing.strip_file_scheme(FLAGS.data_url)
    config = modeling.ResNextConfig.from_json_file(FLAGS.model_config)
    runtime = npu_runconfig.resolve(FLAGS)
    group_conv_impl, group_conv_reason = modeling.choose_group_conv(FLAGS.group_conv,
                                                                    runtime.device)
    print("group conv: %s (%s)" % (group_conv_impl, group_conv_reason), flush=True)
    global_batch = FLAGS.batch_size * runtime.rank_size
    if runtime.multi_worker and FLAGS.mode == "train_and_evaluate":
        raise UsageError("--mode=train_and_evaluate with RANK_SIZE=%d off Ascend is not "
                         "supported: use --mode=train --eval=True (rank 0 evaluates the job)"
                         % runtime.rank_size)
    num_train, num_eval, info = data_sizes(data_dir)
    num_classes = FLAGS.num_classes or info.get("num_classes") or IMAGENET_CLASSES
    classes_from = "--num_classes" if FLAGS.num_classes else (
        "dataset_info.json" if info.get("num_classes") else "ImageNet's, no dataset_info.json")
    steps_per_epoch = max(1, num_train // global_batch)
    schedule_steps = max(1, int(round(FLAGS.num_epochs * steps_per_epoch))) if FLAGS.num_epochs \
        else (FLAGS.max_train_steps or steps_per_epoch)
    max_steps = FLAGS.max_train_steps if FLAGS.max_train_steps is not None else schedule_steps
    warmup_steps = int(round(FLAGS.warmup_epochs * steps_per_epoch))
    print("ResNeXt (%s blocks, widths %s, cardinality %d), padding %s, BN epsilon %g, group "
          "conv: %s, image %dx%d, %d classes (%s), eval preprocessing %s" % (
              config.layer_counts, config.widths, config.cardinality, config.padding,
              config.batch_norm_epsilon, group_conv_impl, FLAGS.image_size, FLAGS.image_size,
              num_classes, classes_from, FLAGS.preprocessing), flush=True)
    print("data: %s [%s] (%d train / %d validation images%s); global batch %d, %d steps/epoch, "
          "LR schedule %d steps (warm-up %d), training to step %d" % (
              data_dir, FLAGS.task_name, num_train, num_eval,
              ", from dataset_info.json" if info else "",
              global_batch, steps_per_epoch, schedule_steps, warmup_steps, max_steps), flush=True)

    train_files = eval_files = None
    if FLAGS.mode != "evaluate":
        train_files = preprocessing.find_tfrecords(data_dir, "train")
    if FLAGS.mode != "train" or FLAGS.eval:
        eval_files = preprocessing.find_tfrecords(data_dir, "validation")

    def train_input_fn(params=None):
        del params
        return preprocessing.build_dataset(
            train_files, True, FLAGS.batch_size, FLAGS.image_size, num_classes,
            FLAGS.label_offset, runtime.rank_size, runtime.rank_id, FLAGS.random_flip,
            seed=FLAGS.seed, min_crop_area=FLAGS.min_crop_area)

    train_input_fn = maybe_synthetic(train_input_fn, FLAGS)

    def eval_input_fn(params=None):
        # The job's evaluation: rank 0 alone, over the whole validation set (not one shard).
        del params
        return preprocessing.build_dataset(
            eval_files, False, FLAGS.batch_size, FLAGS.image_size, num_classes,
            FLAGS.label_offset, eval_preprocessing=FLAGS.preprocessing)

    recorder = RunRecorder(network="ResNext50", task=FLAGS.task_name, batch_size=FLAGS.batch_size,
                           unit="images/sec", runtime=runtime, skip_steps=FLAGS.timing_skip_steps)
    model_fn = model_fn_builder(recorder, config, num_classes, global_batch, num_train,
                                schedule_steps, warmup_steps, group_conv_impl)
    model_dir = FLAGS.model_dir or FLAGS.ckpt_dir
    checkpoints.check_run_checkpoints(FLAGS.mode, model_dir, FLAGS.ckpt_dir, FLAGS.restore_path,
                                      FLAGS.restore_exclude, config, num_classes, FLAGS.model_config)
    estimator = npu_runconfig.build_estimator(model_fn, runtime.run_config(model_dir))
    table = EvalTable(global_batch, num_train)
    result = None
    if FLAGS.mode != "evaluate":
        print(checkpoint_utils.training_start_line(model_dir, max_steps, FLAGS.restore_path),
              flush=True)

    if FLAGS.mode == "train":
        with recorder.timed("train"):
            checkpoints.train_leaving_no_untrained_checkpoint(estimator, train_input_fn, max_steps,
                                                              model_dir)
        if FLAGS.eval and runtime.rank_id == 0:
            with recorder.timed("eval"):
                result = estimator.evaluate(eval_input_fn)
            table.add(result, estimator.latest_checkpoint())
    elif FLAGS.mode == "train_and_evaluate":
        step_per_cycle = FLAGS.epochs_between_evals * steps_per_epoch
        current = 0
        while current < max_steps:
            current = min(current + step_per_cycle, max_steps)
            with recorder.timed("train"):
                checkpoints.train_leaving_no_untrained_checkpoint(estimator, train_input_fn,
                                                                  current, model_dir)
            with recorder.timed("eval"):
                result = estimator.evaluate(eval_input_fn)
            table.add(result, estimator.latest_checkpoint())
    else:
        result = evaluate_checkpoints(estimator, eval_input_fn, FLAGS.ckpt_dir or FLAGS.model_dir,
                                      table, recorder)

    if result is not None:
        metrics = {"top1": result["top1"], "eval_loss": result["cross_entropy"],
                   "global_step": result["global_step"]}
        if "top5" in result:
            metrics["top5"] = result["top5"]
        recorder.set_metrics(metrics, precision=("Top1 Accuracy", result["top1"]))
    recorder.write(FLAGS.results_json or os.path.join(model_dir, "results.json"))


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="data_url")
