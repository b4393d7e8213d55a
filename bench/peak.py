"""The machine's matrix-multiply peak, measured: square fp32 and bf16 `tf.matmul` in a session.

The bench divides each model's achieved FLOP/s by the peak of the precision it ran in. The peak is
the best of several timed runs (other load on shared cores only ever slows a run down), with the
median alongside.
"""
import statistics
import time

import tensorflow.compat.v1 as tf


def matmul_peak(dtype="float32", size=2048, chain=4, repeats=7):
    """{'dtype', 'size', 'best_gflops', 'median_gflops'} or {'dtype', 'error'} where this
    TensorFlow has no CPU kernel for the dtype (TF 1.15 has no bf16 MatMul on CPU)."""
    graph = tf.Graph()
    with graph.as_default():
        tf_dtype = tf.float32 if dtype == "float32" else tf.bfloat16
        a = tf.Variable(tf.cast(tf.random_uniform([size, size], -1.0, 1.0, seed=1), tf_dtype))
        b = tf.Variable(tf.cast(tf.random_uniform([size, size], -1.0, 1.0, seed=2), tf_dtype))
        # `chain` independent products per run, so the per-run overhead is small against them.
        products = [tf.matmul(a + tf.cast(i, tf_dtype), b) for i in range(chain)]
        # Fetch a reduction of each product: grappler prunes products whose outputs nobody reads.
        op = tf.add_n([tf.reduce_sum(tf.cast(p, tf.float32)) for p in products])
        init = tf.global_variables_initializer()
    flop = 2.0 * size ** 3 * chain
    try:
        with tf.Session(graph=graph) as sess:
            sess.run(init)
            sess.run(op)  # warm-up: kernel selection, caches
            rates = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                sess.run(op)
                rates.append(flop / (time.perf_counter() - t0) / 1e9)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError,
            tf.errors.UnimplementedError) as err:
        return {"dtype": dtype, "error": str(err).strip().splitlines()[0][:200]}
    return {"dtype": dtype, "size": size, "best_gflops": max(rates),
            "median_gflops": statistics.median(rates)}
