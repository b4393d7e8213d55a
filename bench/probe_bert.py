"""BERT pretraining step, fp32 vs bf16 auto mixed precision, interleaved in one process.

Investigation tool behind the README's "why mixed precision was slower" section:

    python -m bench.probe_bert --config=configs/bert_base.json --batch_size=8 --steps=5 \
        [--variant=NAME] [--profile]

Builds the training graph of Bert_base/run_pretraining.py (its model_fn, the project's optimizer)
once on constant synthetic features, opens one fp32 and one bf16 session on it, and alternates their
steps (so that load from other processes on shared cores hits both alike). Prints the median ms/step
of each and, with --profile, the time per op type of one traced step and the number of Cast ops that
the bf16 rewrite inserted.
"""
import argparse
import collections
import contextlib
import functools
import math
import statistics
import sys
import time
from unittest import mock

import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from common import npu_runconfig


def synthetic_features(batch_size, seq_length, max_predictions, vocab_size, seed=0):
    """Constant tensors shaped like the pretraining TFRecords' features."""
    rng = np.random.RandomState(seed)
    ids = rng.randint(1, vocab_size, size=(batch_size, seq_length)).astype(np.int32)
    positions = np.sort(rng.choice(np.arange(1, seq_length), size=(batch_size, max_predictions)),
                        axis=1).astype(np.int32)
    return {
        "input_ids": tf.constant(ids),
        "input_mask": tf.constant(np.ones((batch_size, seq_length), np.int32)),
        "segment_ids": tf.constant((np.arange(seq_length)[None, :] >= seq_length // 2)
                                   .astype(np.int32).repeat(batch_size, 0)),
        "masked_lm_positions": tf.constant(positions),
        "masked_lm_ids": tf.constant(rng.randint(1, vocab_size, size=(batch_size, max_predictions))
                                     .astype(np.int32)),
        "masked_lm_weights": tf.constant(np.ones((batch_size, max_predictions), np.float32)),
        "next_sentence_labels": tf.constant(rng.randint(0, 2, size=(batch_size, 1))
                                            .astype(np.int32)),
    }


VARIANTS = {
    "baseline": "the graph of run_pretraining.py as it is (loss scale off, as with bf16)",
    "no_dropout": "hidden and attention dropout 0 (what the stand-in dropout costs)",
    "loss_scale_dynamic": "--loss_scale=dynamic (the loss-scale path: scaling, finite check, cond)",
    "hook_fetches": "also fetch what the step hook fetches (lr, mlm_loss, nsp_loss) and run "
                    "global_step after each step, as common/hooks.py does",
    "one_hot_embeddings": "--use_one_hot_embeddings (one-hot matmul instead of the gather)",
    "unfused_adam": "AdamWeightDecayOptimizer(fused=False): the original's op-by-op update "
                    "instead of the fused Adam kernel",
    "gelu_cube": "gelu with x * x * x instead of tf.pow(x, 3)",
    "gelu_custom_grad": "gelu's forward as it is, its gradient as one analytic expression",
}


class _CapturingRecorder:
    """Stands in for RunRecorder: keeps the tensors the step hook would fetch."""

    def __init__(self):
        self.tensors = {}

    def hook(self, loss, tensors):
        del loss
        self.tensors = dict(tensors)
        return tf.train.SessionRunHook()


def _gelu_cube(x):
    """gelu with x * x * x for tf.pow(x, 3): Mul is on the bf16 rewrite's infer list, Pow is not."""
    cdf = 0.5 * (1.0 + tf.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * (x * x * x))))
    return x * cdf


@tf.custom_gradient
def _gelu_custom_grad(x):
    """The same forward ops; backward dy * (cdf + x * 0.5 * (1 - t^2) * c * (1 + 3a x^2))."""
    c, a = math.sqrt(2.0 / math.pi), 0.044715
    t = tf.tanh(c * (x + a * tf.pow(x, 3)))
    cdf = 0.5 * (1.0 + t)

    def grad(dy):
        return dy * (cdf + x * (0.5 * c) * (1.0 - tf.square(t)) * (1.0 + 3.0 * a * tf.square(x)))
    return x * cdf, grad


def _variant_patch(variant):
    """The code change a variant makes while the graph is built (nothing for the others)."""
    from common import optimization, transformer
    if variant == "unfused_adam":
        return mock.patch.object(optimization, "AdamWeightDecayOptimizer", functools.partial(
            optimization.AdamWeightDecayOptimizer, fused=False))
    if variant == "gelu_cube":
        return mock.patch.object(transformer, "gelu", _gelu_cube)
    if variant == "gelu_custom_grad":
        return mock.patch.object(transformer, "gelu", _gelu_custom_grad)
    return contextlib.nullcontext()


def build(config_path, batch_size, seq_length, max_predictions, variant="baseline"):
    from absl import flags
    from Bert_base import modeling, run_pretraining
    loss_scale = "dynamic" if variant == "loss_scale_dynamic" else "off"
    flags.FLAGS(["probe", "--loss_scale=" + loss_scale])
    bert_config = modeling.BertConfig.from_json_file(config_path)
    if variant == "no_dropout":
        bert_config.hidden_dropout_prob = bert_config.attention_probs_dropout_prob = 0.0
    graph = tf.Graph()
    recorder = _CapturingRecorder()
    with graph.as_default(), _variant_patch(variant):
        tf.set_random_seed(1)
        features = synthetic_features(batch_size, seq_length, max_predictions,
                                      bert_config.vocab_size)
        model_fn = run_pretraining.model_fn_builder(
            bert_config, None, 1e-4, 1000, 100, recorder,
            use_one_hot_embeddings=variant == "one_hot_embeddings")
        spec = model_fn(features, None, tf.estimator.ModeKeys.TRAIN, None)
        fetches = {"train_op": spec.train_op, "loss": spec.loss}
        extra = None
        if variant == "hook_fetches":
            fetches.update(recorder.tensors)
            extra = tf.train.get_global_step()
        init = tf.global_variables_initializer()
    return graph, fetches, init, extra


def session_config(bf16):
    config = tf.ConfigProto(allow_soft_placement=True)
    if bf16:
        setattr(config.graph_options.rewrite_options, npu_runconfig.cpu_bf16_rewriter_field(),
                rewriter_config_pb2.RewriterConfig.ON)
    return config


def op_profile(sess, fetches):
    """(ms per op type summed over one traced step, Cast count, bf16 op count)."""
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE, output_partition_graphs=True)
    meta = tf.RunMetadata()
    sess.run(fetches, options=options, run_metadata=meta)
    per_type = collections.Counter()
    for dev in meta.step_stats.dev_stats:
        for node in dev.node_stats:
            op = node.timeline_label.split("(")[0].split("=")[-1].strip() or node.node_name
            per_type[op] += (node.all_end_rel_micros) / 1000.0
    casts = bf16_ops = 0
    for g in meta.partition_graphs:
        for node in g.node:
            if node.op == "Cast":
                casts += 1
            if any(v.type == tf.bfloat16.as_datatype_enum for k, v in node.attr.items()
                   if k in ("T", "DstT")):
                bf16_ops += 1
    return per_type, casts, bf16_ops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/bert_base.json")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument("--max_predictions", type=int, default=20)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--modes", default="fp32,bf16")
    parser.add_argument("--variant", default="baseline", choices=sorted(VARIANTS))
    args = parser.parse_args(argv)
    print("variant %s: %s" % (args.variant, VARIANTS[args.variant]), flush=True)
    graph, fetches, init, extra = build(args.config, args.batch_size, args.seq_length,
                                        args.max_predictions, args.variant)
    modes = args.modes.split(",")
    sessions = {}
    for mode in modes:
        sess = tf.Session(graph=graph, config=session_config(mode == "bf16"))
        sess.run(init)
        sessions[mode] = sess
    times = {mode: [] for mode in modes}
    for step in range(args.warmup + args.steps):
        for mode in modes:
            t0 = time.time()
            loss = sessions[mode].run(fetches)["loss"]
            if extra is not None:
                sessions[mode].run(extra)
            if step >= args.warmup:
                times[mode].append((time.time() - t0) * 1000)
            print("step %d %s %.0f ms loss %.4f" % (step, mode, (time.time() - t0) * 1000, loss),
                  flush=True)
    for mode in modes:
        t = times[mode]
        print("RESULT %s %s median %.1f ms/step (min %.1f max %.1f)"
              % (args.variant, mode, statistics.median(t), min(t), max(t)), flush=True)
    if len(modes) == 2:
        print("RESULT %s speedup %.3f" % (args.variant, statistics.median(times[modes[0]])
                                       / statistics.median(times[modes[1]])))
    if args.profile:
        for mode in modes:
            per_type, casts, bf16_ops = op_profile(sessions[mode], fetches)
            total = sum(per_type.values())
            print("PROFILE %s: %d Cast ops, %d bf16 ops, traced op time %.0f ms" % (
                mode, casts, bf16_ops, total))
            for op, ms in per_type.most_common(25):
                print("  %-28s %8.1f ms  %5.1f%%" % (op, ms, 100 * ms / total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
