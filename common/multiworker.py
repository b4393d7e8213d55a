"""Data-parallel training off Ascend with TensorFlow's collective runtime.

With RANK_SIZE > 1 and no npu_bridge, every rank is one process with TF_CONFIG (common/cluster.py,
set by common/launcher.py) and the Estimator gets
tf.distribute.experimental.MultiWorkerMirroredStrategy as train_distribute:
  * `train(estimator, input_fn, max_steps)` trains through tf.estimator.train_and_evaluate, the
    only Estimator path that runs a multi-worker strategy (estimator.train refuses it); every
    worker restores the latest checkpoint of the shared model_dir, only the chief (rank 0) writes;
  * `shard(dataset, input_context)` gives each rank its own records (TensorFlow shards nothing);
  * `DistributedOptimizer(opt)` (npu_compat's NPUDistributedOptimizer off Ascend) all-reduces the
    gradients to their global mean in compute_gradients, as Ascend's does, so that clipping and
    the loss-scale overflow check see the job's gradient, identical on every rank;
  * `session_config(config)` adds operation_timeout_in_ms as a safety net only (the launcher
    watches the ranks): a rank whose peer died fails after CLUSTER_OP_TIMEOUT_SEC (default 1800 s,
    far above start-up skew and the slowest step) instead of hanging.
Initial weights come from rank 0 (the strategy broadcasts them); checkpoints from the chief only.
"""
import os

import tensorflow.compat.v1 as tf

from common import cluster
from common.wrapped_optimizer import WrappedOptimizer

DEFAULT_OP_TIMEOUT_SEC = 1800


def rank_from_env():
    """(rank_id, rank_size) from RANK_ID / RANK_SIZE (defaults 0 / 1)."""
    return int(os.environ.get("RANK_ID", "0")), int(os.environ.get("RANK_SIZE", "1"))


def is_chief():
    """Rank 0 writes checkpoints and runs the job's evaluation."""
    return rank_from_env()[0] == 0


def check_environment(rank_id, rank_size):
    """The worker addresses of this rank's TF_CONFIG (ClusterError when it does not fit)."""
    return cluster.check_tf_config(os.environ.get("TF_CONFIG"), rank_id, rank_size)


def rank_file(folder, name):
    """folder/name, or folder/<stem>_rank<R><ext> with several ranks (they share the folder)."""
    rank_id, rank_size = rank_from_env()
    if rank_size > 1:
        stem, ext = os.path.splitext(name)
        name = "%s_rank%d%s" % (stem, rank_id, ext)
    return os.path.join(folder, name)


def op_timeout_sec():
    text = os.environ.get("CLUSTER_OP_TIMEOUT_SEC", str(DEFAULT_OP_TIMEOUT_SEC))
    try:
        value = int(text)
    except ValueError:
        raise cluster.ClusterError("CLUSTER_OP_TIMEOUT_SEC must be an integer, got %r" % text)
    return value


def session_config(config):
    """config with the collective safety-net timeout (0 = none)."""
    seconds = op_timeout_sec()
    if seconds > 0:
        config.operation_timeout_in_ms = seconds * 1000
    return config


def strategy():
    """The multi-worker strategy (reads TF_CONFIG); AUTO communication (ring on CPU)."""
    return tf.distribute.experimental.MultiWorkerMirroredStrategy()


def is_multi_worker(estimator):
    config = estimator.config
    return config.train_distribute is not None and bool(config.cluster_spec)


def train(estimator, input_fn, max_steps):
    """estimator.train, or train_and_evaluate for a multi-worker estimator (no evaluator task:
    evaluation runs afterwards, on the chief, over the whole set)."""
    if not is_multi_worker(estimator):
        return estimator.train(input_fn=input_fn, max_steps=max_steps)
    train_spec = tf.estimator.TrainSpec(input_fn=input_fn, max_steps=max_steps)
    # Never run: a cluster without an 'evaluator' task evaluates nothing in train_and_evaluate.
    eval_spec = tf.estimator.EvalSpec(input_fn=input_fn, steps=1)
    tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    return estimator


def shard(dataset, input_context=None):
    """This rank's records: every N-th from its index. input_context (what the Estimator passes
    under a strategy) decides when it says there are several pipelines, else RANK_ID/RANK_SIZE
    (Ascend, where each rank is a plain process)."""
    if input_context is not None and input_context.num_input_pipelines > 1:
        return dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    rank_id, rank_size = rank_from_env()
    if rank_size > 1:
        return dataset.shard(rank_size, rank_id)
    return dataset


def _replicas():
    if not tf.distribute.has_strategy():
        return 1
    return tf.distribute.get_strategy().num_replicas_in_sync


def _all_reduce_packed(tensors):
    """SUM over the replicas of every tensor, as one collective per dtype (each collective has a
    fixed cost: ResNeXt-50 has ~160 gradients)."""
    out = [None] * len(tensors)
    by_dtype = {}
    for i, t in enumerate(tensors):
        by_dtype.setdefault(t.dtype.base_dtype, []).append(i)
    context = tf.distribute.get_replica_context()
    for indices in by_dtype.values():
        flat = tf.concat([tf.reshape(tensors[i], [-1]) for i in indices], axis=0)
        summed = context.all_reduce(tf.distribute.ReduceOp.SUM, flat)
        static = all(tensors[i].shape.is_fully_defined() for i in indices)
        sizes = [tensors[i].shape.num_elements() if static else tf.size(tensors[i])
                 for i in indices]
        for i, part in zip(indices, tf.split(summed, sizes if static else tf.stack(sizes))):
            out[i] = tf.reshape(part, tensors[i].shape if static else tf.shape(tensors[i]))
    return out


class DistributedOptimizer(WrappedOptimizer):
    """Gradients all-reduced to the job's mean in compute_gradients (Ascend's semantics).

    tf.train.Optimizer under a strategy divides the loss by the replica count before
    differentiating and sums the gradients in apply_gradients. Here compute_gradients sums them at
    once (so every rank holds the global mean gradient) and apply_gradients hands the inner
    optimizer that mean divided by the replica count, which its own sum restores exactly for a
    power-of-two count. One extra all-reduce per step (one packed
    tensor) buys what the 1-device run computes:
    clipping by the global norm of the job's gradient, one overflow decision for all ranks.
    """

    def __init__(self, opt):
        super().__init__(opt, name="DistributedOptimizer")

    def compute_gradients(self, loss, var_list=None, **kwargs):
        grads_and_vars = self._opt.compute_gradients(loss, var_list=var_list, **kwargs)
        kept = [(g, v) for g, v in grads_and_vars if g is not None]
        if _replicas() == 1 or not kept:
            return grads_and_vars
        dense = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                 for g, _ in kept]
        return list(zip(_all_reduce_packed(dense), [v for _, v in kept]))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        replicas = _replicas()
        if replicas > 1:
            grads_and_vars = [(g / float(replicas) if g is not None else None, v)
                              for g, v in grads_and_vars]
        return self._opt.apply_gradients(grads_and_vars, global_step=global_step, name=name)
