"""Bert_base/modeling.py and common/transformer.py: shapes, masking, names, numerics vs numpy."""
import json
import math
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from Bert_base import modeling
from bert_reference import bert_forward, gelu_erf, gelu_tanh
from common import transformer

TINY = dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=48, max_position_embeddings=40, type_vocab_size=2)


def tiny_config(**overrides):
    values = dict(TINY)
    values.update(overrides)
    return modeling.BertConfig(**values)


def random_batch(batch=3, seq=12, vocab=97, seed=0):
    rng = np.random.RandomState(seed)
    ids = rng.randint(5, vocab, size=(batch, seq)).astype(np.int32)
    mask = np.ones((batch, seq), np.int32)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    types = np.zeros((batch, seq), np.int32)
    types[:, 5:] = 1
    ids[mask == 0] = 0
    return ids, mask, types


def build(config, is_training, seq=12, batch=3, **kwargs):
    ids = tf.placeholder(tf.int32, [batch, seq])
    mask = tf.placeholder(tf.int32, [batch, seq])
    types = tf.placeholder(tf.int32, [batch, seq])
    model = modeling.BertModel(config, is_training, ids, mask, types, **kwargs)
    return model, (ids, mask, types)


def expected_bert_variables(config, num_labels=None):
    """The google-research/bert names and shapes of a BERT pretraining (+ classifier) graph."""
    h, i_size = config.hidden_size, config.intermediate_size
    names = {
        "bert/embeddings/word_embeddings": [config.vocab_size, h],
        "bert/embeddings/token_type_embeddings": [config.type_vocab_size, h],
        "bert/embeddings/position_embeddings": [config.max_position_embeddings, h],
        "bert/embeddings/LayerNorm/gamma": [h], "bert/embeddings/LayerNorm/beta": [h],
        "bert/pooler/dense/kernel": [h, h], "bert/pooler/dense/bias": [h],
        "cls/predictions/transform/dense/kernel": [h, h],
        "cls/predictions/transform/dense/bias": [h],
        "cls/predictions/transform/LayerNorm/gamma": [h],
        "cls/predictions/transform/LayerNorm/beta": [h],
        "cls/predictions/output_bias": [config.vocab_size],
        "cls/seq_relationship/output_weights": [2, h],
        "cls/seq_relationship/output_bias": [2],
    }
    for layer in range(config.num_hidden_layers):
        p = "bert/encoder/layer_%d/" % layer
        for qkv in ("query", "key", "value"):
            names[p + "attention/self/%s/kernel" % qkv] = [h, h]
            names[p + "attention/self/%s/bias" % qkv] = [h]
        names[p + "attention/output/dense/kernel"] = [h, h]
        names[p + "attention/output/dense/bias"] = [h]
        names[p + "intermediate/dense/kernel"] = [h, i_size]
        names[p + "intermediate/dense/bias"] = [i_size]
        names[p + "output/dense/kernel"] = [i_size, h]
        names[p + "output/dense/bias"] = [h]
        for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
            names[p + ln + "/gamma"] = [h]
            names[p + ln + "/beta"] = [h]
    if num_labels:
        names["output_weights"] = [num_labels, h]
        names["output_bias"] = [num_labels]
    return names


def test_output_shapes(tf_graph):
    config = tiny_config()
    model, _ = build(config, is_training=True)
    assert model.get_sequence_output().shape.as_list() == [3, 12, 32]
    assert model.get_pooled_output().shape.as_list() == [3, 32]
    assert model.get_embedding_output().shape.as_list() == [3, 12, 32]
    assert model.get_embedding_table().shape.as_list() == [97, 32]
    assert len(model.get_all_encoder_layers()) == 2


def test_checkpoint_names_and_shapes_are_the_originals(tf_graph):
    config = tiny_config()
    model, (ids, _, _) = build(config, is_training=True)
    positions = tf.zeros([3, 4], tf.int32)
    transformer.masked_lm_output(model.get_sequence_output(), model.get_embedding_table(),
                                 positions, positions, tf.ones([3, 4]), config.hidden_size)
    transformer.next_sentence_output(model.get_pooled_output(), tf.zeros([3], tf.int32),
                                     config.hidden_size)
    transformer.classification_output(model.get_pooled_output(), tf.zeros([3], tf.int32),
                                      num_labels=3, is_training=True)
    got = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    assert got == expected_bert_variables(config, num_labels=3)


def test_attention_mask_really_masks(tf_graph):
    """Changing the ids / types under padding leaves every real position's output unchanged."""
    config = tiny_config()
    model, (ids, mask, types) = build(config, is_training=False)
    a_ids, a_mask, a_types = random_batch()
    b_ids, b_types = a_ids.copy(), a_types.copy()
    rng = np.random.RandomState(1)
    pad = a_mask == 0
    b_ids[pad] = rng.randint(5, 97, size=pad.sum())
    b_types[pad] = 1 - b_types[pad]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        fetch = [model.get_sequence_output(), model.get_pooled_output()]
        seq_a, pool_a = sess.run(fetch, {ids: a_ids, mask: a_mask, types: a_types})
        seq_b, pool_b = sess.run(fetch, {ids: b_ids, mask: a_mask, types: b_types})
        # Without the mask the same change does alter the real positions.
        seq_c = sess.run(model.get_sequence_output(),
                         {ids: b_ids, mask: np.ones_like(a_mask), types: b_types})
    real = a_mask == 1
    np.testing.assert_allclose(seq_a[real], seq_b[real], atol=1e-5)
    np.testing.assert_allclose(pool_a, pool_b, atol=1e-5)
    assert np.abs(seq_a[real] - seq_c[real]).max() > 1e-3


@pytest.mark.parametrize("act", ["gelu", "gelu_exact"])
def test_forward_matches_numpy_reference(tf_graph, act):
    config = tiny_config(hidden_act=act)
    model, (ids, mask, types) = build(config, is_training=False)
    a_ids, a_mask, a_types = random_batch()
    with tf.Session() as sess:
        # Non-trivial LayerNorm parameters and biases, so every weight matters.
        rng = np.random.RandomState(3)
        sess.run(tf.global_variables_initializer())
        for var in tf.global_variables():
            sess.run(var.assign(rng.normal(0, 0.2 if "LayerNorm" not in var.name else 0.5,
                                           var.shape.as_list()).astype(np.float32)
                                + (1.0 if var.name.endswith("gamma:0") else 0.0)))
        weights = {v.op.name: sess.run(v) for v in tf.global_variables()}
        seq, pooled = sess.run([model.get_sequence_output(), model.get_pooled_output()],
                               {ids: a_ids, mask: a_mask, types: a_types})
    ref_seq, ref_pooled = bert_forward(weights, TINY, a_ids, a_mask, a_types,
                                       act="tanh" if act == "gelu" else "erf")
    np.testing.assert_allclose(seq, ref_seq, atol=2e-4)
    np.testing.assert_allclose(pooled, ref_pooled, atol=2e-4)


def test_gelu_is_the_tanh_approximation(tf_graph):
    x = np.linspace(-6, 6, 101).astype(np.float32)
    with tf.Session() as sess:
        approx, exact = sess.run([transformer.gelu(tf.constant(x)),
                                  transformer.gelu_exact(tf.constant(x))])
    np.testing.assert_allclose(approx, gelu_tanh(x.astype(np.float64)), atol=1e-6)
    np.testing.assert_allclose(exact, gelu_erf(x.astype(np.float64)), atol=1e-6)
    assert np.abs(approx - exact).max() > 1e-4      # they are different functions


def test_layer_norm_epsilon_and_dropout_off_in_eval(tf_graph):
    x = np.array([[1.0, 1.0 + 1e-6, 1.0 - 1e-6, 1.0]], np.float32)
    out = transformer.layer_norm(tf.constant(x))
    config = tiny_config()
    model, (ids, mask, types) = build(config, is_training=False)
    a = random_batch()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(out)
        one = sess.run(model.get_sequence_output(), dict(zip((ids, mask, types), a)))
        two = sess.run(model.get_sequence_output(), dict(zip((ids, mask, types), a)))
    mean, var = x.mean(), x.var()
    np.testing.assert_allclose(got, (x - mean) / np.sqrt(var + 1e-12), rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(one, two)


def test_initializers(tf_graph):
    config = modeling.BertConfig(vocab_size=500, hidden_size=64, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=64)
    build(config, is_training=True, seq=8, batch=2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {v.op.name: sess.run(v) for v in tf.global_variables()}
    table = values["bert/embeddings/word_embeddings"]
    assert abs(table.std() - 0.02 * 0.88) < 0.002          # truncated normal(0.02): std 0.0176
    assert np.abs(table).max() <= 0.04 + 1e-6                # truncated at 2 stddev
    assert not values["bert/encoder/layer_0/attention/self/query/bias"].any()
    assert (values["bert/embeddings/LayerNorm/gamma"] == 1).all()


def test_relative_positions_nezha(tf_graph):
    config = tiny_config(use_relative_positions=True, max_relative_position=4)
    model, (ids, mask, types) = build(config, is_training=False)
    names = {v.op.name for v in tf.global_variables()}
    assert "bert/embeddings/position_embeddings" not in names
    a_ids, a_mask, a_types = random_batch()
    table = transformer.relative_positions_embeddings(6, 8, max_relative_position=4)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_table = sess.run(table)
        out = sess.run(model.get_sequence_output(), {ids: a_ids, mask: a_mask, types: a_types})
        # Relative positions make the encoder order-aware although no position embedding exists:
        # a shifted copy of a token sequence gives different outputs.
        shifted = np.roll(a_ids, 1, axis=1)
        out_shift = sess.run(model.get_sequence_output(),
                             {ids: shifted, mask: np.ones_like(a_mask), types: a_types * 0})
        out_plain = sess.run(model.get_sequence_output(),
                             {ids: a_ids, mask: np.ones_like(a_mask), types: a_types * 0})
    assert np.isfinite(out).all()
    assert got_table.shape == (6, 6, 8)
    # Row (i, j) encodes clip(j - i, -4, 4) + 4 with sin on even, cos on odd features.
    for i, j in [(0, 0), (0, 5), (5, 0), (2, 3)]:
        r = min(max(j - i, -4), 4) + 4
        div = np.exp(np.arange(0, 8, 2) * (-math.log(10000.0) / 8))
        np.testing.assert_allclose(got_table[i, j, 0::2], np.sin(r * div), atol=1e-6)
        np.testing.assert_allclose(got_table[i, j, 1::2], np.cos(r * div), atol=1e-6)
    assert np.abs(out_shift[:, 1:] - out_plain[:, :-1]).max() > 1e-3


def test_seq_length_above_max_position_embeddings_is_an_error(tf_graph):
    config = tiny_config(max_position_embeddings=8)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        build(config, is_training=False, seq=12)


def test_config_json_round_trip_and_errors(tmp_path, repo_root):
    for name in ("bert_base.json", "bert_tiny.json"):
        config = modeling.BertConfig.from_json_file(os.path.join(repo_root, "configs", name))
        assert config.hidden_size % config.num_attention_heads == 0
    base = modeling.BertConfig.from_json_file(os.path.join(repo_root, "configs", "bert_base.json"))
    assert (base.hidden_size, base.num_hidden_layers, base.num_attention_heads,
            base.intermediate_size, base.vocab_size) == (768, 12, 12, 3072, 30522)
    path = tmp_path / "c.json"
    path.write_text(tiny_config().to_json_string())
    assert json.loads(path.read_text())["hidden_size"] == 32
    assert modeling.BertConfig.from_json_file(str(path)).to_dict() == tiny_config().to_dict()
    with pytest.raises(FileNotFoundError, match="missing.json"):
        modeling.BertConfig.from_json_file(str(tmp_path / "missing.json"))
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        modeling.BertConfig.from_json_file(str(path))
    path.write_text(json.dumps(dict(TINY, num_attention_heads=5)))
    with pytest.raises(ValueError, match="multiple"):
        modeling.BertConfig.from_json_file(str(path))


def test_albert_names_come_from_the_same_blocks(tf_graph):
    """The layer code takes its scope names as parameters (ALBERT reuses it)."""
    x = tf.zeros([2 * 5, 16])
    with tf.variable_scope("bert/encoder/transformer/group_0/inner_group_0"):
        transformer.transformer_layer(x, None, 2, 5, hidden_size=16, num_attention_heads=2,
                                      intermediate_size=24,
                                      names=transformer.ALBERT_LAYER_NAMES)
    got = {v.op.name[len("bert/encoder/transformer/group_0/inner_group_0/"):]
           for v in tf.global_variables()}
    assert got == {
        "attention_1/self/query/kernel", "attention_1/self/query/bias",
        "attention_1/self/key/kernel", "attention_1/self/key/bias",
        "attention_1/self/value/kernel", "attention_1/self/value/bias",
        "attention_1/output/dense/kernel", "attention_1/output/dense/bias",
        "LayerNorm/gamma", "LayerNorm/beta",
        "ffn_1/intermediate/dense/kernel", "ffn_1/intermediate/dense/bias",
        "ffn_1/intermediate/output/dense/kernel", "ffn_1/intermediate/output/dense/bias",
        "LayerNorm_1/gamma", "LayerNorm_1/beta"}
