"""Fixed-length int64 features in TFRecords, for the token-level tasks (NER, reading
comprehension) whose features are several int lists per example.

    write_int_features(path, [{"input_ids": [...], "label_ids": [...], ...}, ...])
    input_fn = int_features_input_fn(path, {"input_ids": seq_len, "unique_ids": 0, ...}, ...)

The file appears whole or not at all (common/atomic_io.py); a length of 0 in the spec is a scalar.
"""
import collections

import tensorflow.compat.v1 as tf

from common import atomic_io, multiworker


def write_int_features(path, feature_dicts):
    """Writes an iterable of {name: int or list of ints} as tf.train.Examples; returns the count."""
    count = 0
    with atomic_io.replacing(path) as tmp, tf.io.TFRecordWriter(tmp) as writer:
        for item in feature_dicts:
            features = collections.OrderedDict()
            for name, values in item.items():
                values = [values] if isinstance(values, int) else list(values)
                features[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=features)).SerializeToString())
            count += 1
    return count


def int_features_input_fn(path, lengths, is_training, batch_size, drop_remainder=True, seed=None):
    """input_fn over `path`: {name: int32 tensor}, shapes from `lengths` {name: length or 0};
    sharded by rank, shuffled and repeated when training (as classifier_data's)."""
    spec = {name: tf.FixedLenFeature([length] if length else [], tf.int64)
            for name, length in lengths.items()}

    def decode(record):
        example = tf.parse_single_example(record, spec)
        return {name: tf.cast(t, tf.int32) for name, t in example.items()}

    def input_fn(params=None, input_context=None):
        del params
        d = tf.data.TFRecordDataset(path)
        if is_training:   # each rank its own records (common/multiworker.py)
            d = multiworker.shard(d, input_context)
            d = d.repeat()
            d = d.shuffle(buffer_size=100, seed=seed)
        d = d.map(decode, num_parallel_calls=2)
        d = d.batch(batch_size, drop_remainder=drop_remainder)
        return d.prefetch(2)

    return input_fn


def memoized_tokenize(tokenizer):
    """tokenizer.tokenize with a cache (a copy per call): the token-level tasks tokenize the same
    characters and words over and over."""
    cache = {}

    def tokenize(text):
        pieces = cache.get(text)
        if pieces is None:
            pieces = cache[text] = tokenizer.tokenize(text)
        return list(pieces)
    return tokenize
