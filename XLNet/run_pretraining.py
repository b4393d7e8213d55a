# coding=utf-8
"""XLNet permutation-LM pretraining (zihangdai/xlnet train_gpu.py + function_builder.two_stream_loss)
as an Estimator on common/'s runtime.

    python XLNet/data_utils.py --input_glob='corpus/*.txt' --sp_path=spiece.model \\
        --save_dir=proc --bsz_per_host=32 --seq_len=512 --reuse_len=256 --num_predict=85
    python XLNet/run_pretraining.py --record_info_dir=proc/tfrecords --output_dir=out \\
        --model_config_path=xlnet_config.json --spiece_model_file=spiece.model \\
        --train_batch_size=32 --seq_len=512 --reuse_len=256 --perm_size=256 --mem_len=384 \\
        --num_predict=85 --bi_data --train_steps=100000 --do_train

The model runs both streams; the loss is the LM cross-entropy over the vocabulary at the
num_predict targets (softmax weight tied to the embedding, bias model/lm_loss/bias), averaged over
target_mask.

Memory across steps: the original's train_gpu.py feeds each layer's memory in and fetches the new
one every session.run; its TPU estimator carries a "cache". Neither fits tf.estimator. Here each
layer's memory is a non-trainable *local* variable mems/layer_<i> [mem_len, batch, d_model],
zero when the session starts (as train_gpu.py's first step), read by the forward pass and
overwritten with the new memory after each update (the assignment waits for the train op, which
waits for every read). Local variables are not in checkpoints: a resumed run restarts its memory
from zeros, as the original's restarted GPU run does, and the clean export has no trace of them.
This works the same on TF 1.15 and 2.15, on CPU/GPU, and inside Ascend's device loop
(iterations_per_loop), where a fed placeholder could not change between the loop's steps.
Evaluation (--do_eval) reads the dev records the same way, its memory starting from zeros.
"""

import os

import tensorflow.compat.v1 as tf
from absl import flags

if not __package__:  # run as `python XLNet/run_pretraining.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from XLNet import data_utils, export_checkpoint, function_builder, model_utils, modeling
from common import checkpoint_utils, cli, npu_runconfig
from common import flags as common_flags
from common.atomic_io import write_text
from common.demo_data.text import results_task_name
from common.npu_compat import NPUEstimatorSpec
from common.results import RunRecorder
from common import synthetic_input

common_flags.define_common_flags()
flags.DEFINE_string("record_info_dir", None, "Folder(s), comma-separated, of record_info-*.json "
                    "and the TFRecords of data_utils.py.")
flags.DEFINE_string("output_dir", None, "Checkpoints and results.")
flags.DEFINE_alias("model_dir", "output_dir")
flags.DEFINE_string("model_config_path", None, "xlnet_config.json of the model to train.")
flags.DEFINE_string("spiece_model_file", None, "Optional: spiece.model, copied into --export_dir.")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint (prefix or folder) to start from.")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate on the --eval_split records: PLM accuracy, loss.")
flags.DEFINE_string("eval_split", "dev", "Split of the eval records (falls back to train).")
flags.DEFINE_integer("max_eval_steps", 50, "Eval batches.")
flags.DEFINE_integer("train_batch_size", 32, "Batch size (the records' bsz_per_host).")
flags.DEFINE_integer("seq_len", 512, "Sequence length of the records.")
flags.DEFINE_integer("reuse_len", 256, "Memory part of a record (half of seq_len).")
flags.DEFINE_integer("perm_size", 256, "Length of the local permutations.")
flags.DEFINE_integer("mem_len", 384, "Memory length carried across steps (0: none).")
flags.DEFINE_bool("bi_data", True, "Forward and backward rows (as the records were made).")
flags.DEFINE_integer("mask_alpha", 6, "Records' mask_alpha.")
flags.DEFINE_integer("mask_beta", 1, "Records' mask_beta.")
flags.DEFINE_integer("num_predict", 85, "Targets per record (the records' fixed num_predict).")
flags.DEFINE_bool("uncased", False, "The records are uncased.")
flags.DEFINE_bool("same_length", False, "Same-length attention.")
model_utils.define_training_flags(train_steps=100000, learning_rate=1e-4, min_lr_ratio=0.001)
flags.DEFINE_string("export_dir", None, "After training, write a clean checkpoint "
                    "(xlnet_model.ckpt) + xlnet_config.json (+ spiece.model) for fine-tuning.")
FLAGS = flags.FLAGS
NETWORK = "XLNet"


def model_fn_builder(xlnet_config, recorder, batch_size):
    def model_fn(features, labels, mode, params):
        del labels, params
        is_training = mode == tf.estimator.ModeKeys.TRAIN
        run_config = modeling.create_run_config(
            is_training, False, dropout=FLAGS.dropout, dropatt=FLAGS.dropatt, init=FLAGS.init,
            init_range=FLAGS.init_range, init_std=FLAGS.init_std, clamp_len=FLAGS.clamp_len,
            mem_len=FLAGS.mem_len, reuse_len=FLAGS.reuse_len, bi_data=FLAGS.bi_data,
            same_length=FLAGS.same_length)
        mem_vars = function_builder.memory_variables(xlnet_config.n_layer, FLAGS.mem_len,
                                                     batch_size, xlnet_config.d_model)
        loss, new_mems, logits, per_token, tgt, tgt_mask = function_builder.two_stream_loss(
            xlnet_config, run_config, features, mem_vars,
            with_logits=mode == tf.estimator.ModeKeys.EVAL)
        if FLAGS.init_checkpoint:
            checkpoint_utils.init_from_checkpoint(FLAGS.init_checkpoint, tf.trainable_variables(),
                                                  log=is_training)
        if is_training:
            train_op, tensors = model_utils.get_train_op_from_flags(loss, FLAGS)
            train_op = function_builder.update_memory(mem_vars, new_mems, train_op)
            return NPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op, training_hooks=[
                recorder.hook(loss, tensors, line_format=model_utils.step_line)])
        if mode == tf.estimator.ModeKeys.EVAL:
            predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
            accuracy, acc_update = tf.metrics.accuracy(tgt, predictions, weights=tgt_mask)
            update = function_builder.update_memory(mem_vars, new_mems,
                                                    tf.group(acc_update, loss))
            with tf.control_dependencies([update]):
                acc_update = tf.identity(acc_update)
            metrics = {"plm_accuracy": (accuracy, acc_update),
                       "plm_loss": tf.metrics.mean(per_token, weights=tgt_mask)}
            return NPUEstimatorSpec(mode=mode, loss=loss, eval_metric_ops=metrics)
        raise ValueError("only TRAIN and EVAL modes are supported, got %s" % mode)
    return model_fn


def check_flags():
    if not FLAGS.do_train and not FLAGS.do_eval:
        raise npu_runconfig.UsageError("at least one of --do_train or --do_eval must be True")
    for name in ("record_info_dir", "model_config_path", "output_dir"):
        if not getattr(FLAGS, name):
            raise npu_runconfig.UsageError("--%s is required" % name)
    for name in ("model_config_path", "spiece_model_file"):
        if getattr(FLAGS, name) and not os.path.isfile(getattr(FLAGS, name)):
            raise FileNotFoundError("--%s=%s not found" % (name, getattr(FLAGS, name)))
    if FLAGS.bi_data and FLAGS.train_batch_size % 2:
        raise npu_runconfig.UsageError(
            "--train_batch_size=%d is odd: --bi_data needs an even batch (forward and backward "
            "halves)" % FLAGS.train_batch_size)
    data_utils.check_options(FLAGS.seq_len, FLAGS.reuse_len, FLAGS.train_batch_size,
                             FLAGS.bi_data, FLAGS.mask_alpha, FLAGS.mask_beta, FLAGS.num_predict,
                             FLAGS.perm_size)
    if FLAGS.mem_len < 0:
        raise npu_runconfig.UsageError("--mem_len must be >= 0, got %d" % FLAGS.mem_len)
    if FLAGS.do_train and FLAGS.warmup_steps >= FLAGS.train_steps:
        raise npu_runconfig.UsageError("--warmup_steps must be below --train_steps")
    if FLAGS.init_checkpoint:
        FLAGS.init_checkpoint = checkpoint_utils.resolve_checkpoint(FLAGS.init_checkpoint)
    return modeling.XLNetConfig.from_json_file(FLAGS.model_config_path)


def record_info(split):
    return data_utils.find_record_info(
        FLAGS.record_info_dir, split, FLAGS.train_batch_size, FLAGS.seq_len, FLAGS.reuse_len,
        FLAGS.bi_data, FLAGS.mask_alpha, FLAGS.mask_beta, FLAGS.uncased, FLAGS.num_predict)


def input_fn(info, seed=None):
    return data_utils.input_fn_builder(info["filenames"], FLAGS.train_batch_size, FLAGS.seq_len,
                                       FLAGS.reuse_len, FLAGS.perm_size, FLAGS.num_predict, seed)


def _corrupt(err):
    return ValueError("--record_info_dir=%s: corrupt or mismatched TFRecords (%s)"
                      % (FLAGS.record_info_dir, str(err).strip().splitlines()[0]))


def run():
    tf.logging.set_verbosity(tf.logging.INFO)
    xlnet_config = check_flags()
    train_info = record_info("train") if FLAGS.do_train else None
    eval_info = None
    if FLAGS.do_eval:
        try:
            eval_info = record_info(FLAGS.eval_split)
        except data_utils.DataError:
            if FLAGS.eval_split == "train":
                raise
            print("note: no %s records: evaluating on the train records" % FLAGS.eval_split,
                  flush=True)
            eval_info = record_info("train")
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    runtime = npu_runconfig.resolve(FLAGS)
    first_dir = os.path.abspath(FLAGS.record_info_dir.split(",")[0])
    recorder = RunRecorder(network=NETWORK,
                           task=results_task_name("pretraining", os.path.dirname(first_dir)),
                           batch_size=FLAGS.train_batch_size, unit="sentences/sec",
                           runtime=runtime, skip_steps=FLAGS.timing_skip_steps)
    estimator = npu_runconfig.build_estimator(
        model_fn_builder(xlnet_config, recorder, FLAGS.train_batch_size),
        runtime.run_config(FLAGS.output_dir))

    if FLAGS.do_train:
        npu_runconfig.check_loop_alignment(FLAGS.train_steps, FLAGS.iterations_per_loop,
                                           "train_steps")
        print(checkpoint_utils.training_start_line(FLAGS.output_dir, FLAGS.train_steps,
                                                   FLAGS.init_checkpoint), flush=True)
        print("pretraining records: %d batches of %d in %d file(s); seq_len %d, reuse_len %d, "
              "mem_len %d, perm_size %d, num_predict %d, bi_data %s"
              % (train_info["num_batch"], FLAGS.train_batch_size, len(train_info["filenames"]),
                 FLAGS.seq_len, FLAGS.reuse_len, FLAGS.mem_len, FLAGS.perm_size,
                 FLAGS.num_predict, FLAGS.bi_data), flush=True)
        with recorder.timed("train"):
            try:
                train_input_fn = synthetic_input.maybe_synthetic(
                    input_fn(train_info, seed=FLAGS.seed), FLAGS)
                estimator.train(train_input_fn, max_steps=FLAGS.train_steps)
            except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
                raise _corrupt(err)
        if FLAGS.export_dir:
            written = export_checkpoint.export(FLAGS.output_dir, FLAGS.export_dir,
                                               FLAGS.model_config_path, FLAGS.spiece_model_file)
            print("exported %d variables to %s" % (len(written), FLAGS.export_dir), flush=True)

    if FLAGS.do_eval:
        steps = min(FLAGS.max_eval_steps, eval_info["num_batch"])
        with recorder.timed("eval"):
            try:
                result = estimator.evaluate(input_fn(eval_info, seed=FLAGS.seed + 1), steps=steps)
            except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
                raise _corrupt(err)
        lines = ["%s = %s" % (k, result[k]) for k in sorted(result)]
        write_text(os.path.join(FLAGS.output_dir, "eval_results.txt"), "\n".join(lines) + "\n")
        print("***** Eval results (%d batches) *****\n  " % steps + "\n  ".join(lines),
              flush=True)
        recorder.set_metrics(result, precision=("PLM Accuracy", result["plm_accuracy"]))

    recorder.write(FLAGS.results_json or os.path.join(FLAGS.output_dir, "results.json"))


if __name__ == "__main__":
    cli.run_entry_point(run, input_flag="record_info_dir",
                        user_errors=(modeling.ConfigError, data_utils.DataError))
