"""`--synthetic_data`: an input mode without per-step I/O, for benchmarking the model alone.

The training input_fn's first batch is read once (shapes, dtypes and values of the real data),
then repeated from memory: no file reads, parsing, shuffling or augmentation per step.
`python -m bench` compares it with the real input path to measure the harness's input overhead.
"""
import inspect

import tensorflow.compat.v1 as tf


def synthetic(input_fn):
    """An input_fn that yields the first batch of `input_fn` again and again."""
    takes_params = "params" in inspect.signature(input_fn).parameters

    # Estimator passes `params` only to an input_fn whose signature names it.
    def synthetic_input_fn(params=None):
        dataset = input_fn(params) if takes_params else input_fn()
        return dataset.take(1).cache().repeat().prefetch(1)
    return synthetic_input_fn


def maybe_synthetic(input_fn, flags_obj):
    """`input_fn` itself, or its synthetic form when --synthetic_data is on (said once)."""
    if not getattr(flags_obj, "synthetic_data", False):
        return input_fn
    print("input: synthetic (--synthetic_data: the first batch, read once, repeated from memory; "
          "no I/O per step)", flush=True)
    tf.logging.info("synthetic input: the first batch repeated")
    return synthetic(input_fn)
