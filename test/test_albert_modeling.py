"""Albert/modeling.py: names/shapes of both layouts, numerics vs an independent numpy reference
(shared and unshared groups, inner groups, E != H and E == H, albert_zh), parameter counts,
config and checkpoint-layout errors."""
import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from Albert import modeling
from albert_reference import albert_forward, pretraining_losses

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = dict(vocab_size=53, embedding_size=16, hidden_size=24, num_hidden_layers=3,
            num_hidden_groups=1, inner_group_num=1, num_attention_heads=4,
            intermediate_size=40, max_position_embeddings=20, type_vocab_size=2)


def config_of(**overrides):
    values = dict(TINY)
    values.update(overrides)
    return values


def expected_variables(cfg, variant="google"):
    """Names and shapes the originals' checkpoints hold for this config (model + heads)."""
    v, e, h, i = cfg["vocab_size"], cfg["embedding_size"], cfg["hidden_size"], cfg["intermediate_size"]
    emb = h if variant == "albert_zh" else e
    names = {
        "bert/embeddings/word_embeddings": [v, e],
        "bert/embeddings/token_type_embeddings": [cfg["type_vocab_size"], emb],
        "bert/embeddings/position_embeddings": [cfg["max_position_embeddings"], emb],
        "bert/embeddings/LayerNorm/gamma": [emb], "bert/embeddings/LayerNorm/beta": [emb],
        "bert/pooler/dense/kernel": [h, h], "bert/pooler/dense/bias": [h],
        "cls/predictions/transform/dense/kernel": [h, emb],
        "cls/predictions/transform/dense/bias": [emb],
        "cls/predictions/transform/LayerNorm/gamma": [emb],
        "cls/predictions/transform/LayerNorm/beta": [emb],
        "cls/predictions/output_bias": [v],
        "cls/seq_relationship/output_weights": [2, h],
        "cls/seq_relationship/output_bias": [2],
    }

    def block(prefix, names_of):
        for qkv in ("query", "key", "value"):
            names[prefix + names_of["self"] + "/%s/kernel" % qkv] = [h, h]
            names[prefix + names_of["self"] + "/%s/bias" % qkv] = [h]
        names[prefix + names_of["out"] + "/kernel"] = [h, h]
        names[prefix + names_of["out"] + "/bias"] = [h]
        names[prefix + names_of["ffn_in"] + "/kernel"] = [h, i]
        names[prefix + names_of["ffn_in"] + "/bias"] = [i]
        names[prefix + names_of["ffn_out"] + "/kernel"] = [i, h]
        names[prefix + names_of["ffn_out"] + "/bias"] = [h]
        for ln in names_of["ln"]:
            names[prefix + ln + "/gamma"] = [h]
            names[prefix + ln + "/beta"] = [h]

    if variant == "google":
        if e != h:
            names["bert/encoder/embedding_hidden_mapping_in/kernel"] = [e, h]
            names["bert/encoder/embedding_hidden_mapping_in/bias"] = [h]
        for g in range(cfg["num_hidden_groups"]):
            for k in range(cfg["inner_group_num"]):
                block("bert/encoder/transformer/group_%d/inner_group_%d/" % (g, k),
                      {"self": "attention_1/self", "out": "attention_1/output/dense",
                       "ffn_in": "ffn_1/intermediate/dense",
                       "ffn_out": "ffn_1/intermediate/output/dense",
                       "ln": ("LayerNorm", "LayerNorm_1")})
    else:
        names["bert/embeddings/word_embeddings_2"] = [e, h]
        block("bert/encoder/layer_shared/",
              {"self": "attention/self", "out": "attention/output/dense",
               "ffn_in": "intermediate/dense", "ffn_out": "output/dense",
               "ln": ("attention/output/LayerNorm", "output/LayerNorm")})
    return names


def batch_inputs(cfg, batch=3, seq=10, preds=4, seed=0):
    rng = np.random.RandomState(seed)
    ids = rng.randint(1, cfg["vocab_size"], size=(batch, seq)).astype(np.int32)
    mask = np.ones((batch, seq), np.int32)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    types = np.zeros((batch, seq), np.int32)
    types[:, 4:] = 1
    positions = np.stack([rng.choice(seq, preds, replace=False) for _ in range(batch)]).astype(np.int32)
    label_ids = rng.randint(0, cfg["vocab_size"], size=(batch, preds)).astype(np.int32)
    label_weights = np.ones((batch, preds), np.float32)
    label_weights[2, 2:] = 0.0
    sop = np.array([0, 1, 1], np.int32)
    return ids, mask, types, positions, label_ids, label_weights, sop


def build_pretraining_graph(cfg_dict, batch=3, seq=10, preds=4, is_training=False):
    config = modeling.AlbertConfig.from_dict(cfg_dict)
    ph = [tf.placeholder(tf.int32, [batch, seq]) for _ in range(3)]
    positions = tf.placeholder(tf.int32, [batch, preds])
    label_ids = tf.placeholder(tf.int32, [batch, preds])
    label_weights = tf.placeholder(tf.float32, [batch, preds])
    sop = tf.placeholder(tf.int32, [batch])
    model = modeling.AlbertModel(config, is_training, *ph)
    mlm_loss, _, _ = modeling.get_masked_lm_output(config, model, positions, label_ids, label_weights)
    sop_loss, _, _ = modeling.get_sentence_order_output(config, model, sop)
    feeds = ph + [positions, label_ids, label_weights, sop]
    return config, model, mlm_loss, sop_loss, feeds


def variable_shapes():
    return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


@pytest.mark.parametrize("overrides,variant", [
    ({}, "google"),
    (dict(num_hidden_groups=3), "google"),
    (dict(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2), "google"),
    (dict(embedding_size=24), "google"),
    (dict(ln_type="postln"), "albert_zh"),
])
def test_variable_names_and_shapes_are_the_originals(tf_graph, overrides, variant):
    cfg = config_of(**overrides)
    config, model, _, _, _ = build_pretraining_graph(cfg)
    assert config.variant == variant and model.variant == variant
    assert variable_shapes() == expected_variables(cfg, variant)


@pytest.mark.parametrize("overrides,variant", [
    ({}, "google"),                                                      # all layers shared, E != H
    (dict(num_hidden_groups=3), "google"),                               # no sharing
    (dict(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2), "google"),
    (dict(embedding_size=24), "google"),                                 # E == H: no mapping
    (dict(ln_type="postln"), "albert_zh"),
])
def test_forward_and_losses_match_numpy_reference(tf_graph, overrides, variant):
    cfg = config_of(**overrides)
    config, model, mlm_loss, sop_loss, feeds = build_pretraining_graph(cfg)
    rng = np.random.RandomState(1)
    assigns = []
    for var in tf.global_variables():
        scale = 0.5 if ("LayerNorm" in var.op.name or "bias" in var.op.name) else 0.3
        value = rng.normal(0.0, scale, var.shape.as_list()).astype(np.float32)
        if var.op.name.endswith("gamma"):
            value += 1.0
        assigns.append(tf.assign(var, value))
    inputs = batch_inputs(cfg)
    with tf.Session() as sess:
        sess.run(assigns)
        fetched = sess.run([model.get_all_encoder_layers(), model.get_pooled_output(), mlm_loss,
                            sop_loss], dict(zip(feeds, inputs)))
        weights = {v.op.name: sess.run(v) for v in tf.global_variables()}
    layers, pooled, mlm, sop = fetched
    ref_layers, ref_pooled = albert_forward(weights, cfg, inputs[0], inputs[1], inputs[2], variant)
    assert len(layers) == len(ref_layers)
    for got, ref in zip(layers, ref_layers):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)
    np.testing.assert_allclose(pooled, ref_pooled, rtol=0, atol=1e-5)
    ref_mlm, ref_sop = pretraining_losses(weights, ref_layers[-1], ref_pooled, inputs[3],
                                          inputs[4], inputs[5], inputs[6], variant)
    assert abs(mlm - ref_mlm) <= 1e-5 * max(1.0, abs(ref_mlm))
    assert abs(sop - ref_sop) <= 1e-5 * max(1.0, abs(ref_sop))
    assert ref_mlm > 1.0 and np.std(ref_layers[-1]) > 0.1   # non-trivial numbers were compared


def test_inputs_default_and_padding_is_masked(tf_graph):
    """A padded position's token does not change the real positions' outputs."""
    config = modeling.AlbertConfig.from_dict(config_of())
    ids = tf.placeholder(tf.int32, [1, 6])
    mask = tf.constant([[1, 1, 1, 1, 0, 0]])
    model = modeling.AlbertModel(config, False, ids, mask)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a = sess.run(model.get_sequence_output(), {ids: [[5, 6, 7, 8, 9, 10]]})
        b = sess.run(model.get_sequence_output(), {ids: [[5, 6, 7, 8, 30, 40]]})
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-6)


def num_parameters(cfg, variant="google", heads=False):
    """What the config implies, counted by hand."""
    v, e, h, i = cfg["vocab_size"], cfg["embedding_size"], cfg["hidden_size"], cfg["intermediate_size"]
    emb = h if variant == "albert_zh" else e
    total = v * e + (cfg["max_position_embeddings"] + cfg["type_vocab_size"] + 2) * emb
    block = 4 * (h * h + h) + 2 * 2 * h + (h * i + i) + (i * h + h)
    if variant == "google":
        total += (e * h + h) if e != h else 0
        total += cfg["num_hidden_groups"] * cfg["inner_group_num"] * block
    else:
        total += e * h + block
    total += h * h + h                                   # pooler
    if heads:
        total += h * emb + emb + 2 * emb + v + 2 * h + 2
    return total


@pytest.mark.parametrize("name", ["albert_base", "albert_large", "albert_tiny"])
def test_parameter_count_is_what_the_config_implies(tf_graph, name):
    with open(os.path.join(REPO, "configs", name + ".json")) as f:
        cfg = json.load(f)
    config = modeling.AlbertConfig.from_dict(cfg)
    ids = tf.placeholder(tf.int32, [1, 8])
    modeling.AlbertModel(config, False, ids)
    count = sum(int(np.prod(v.shape.as_list())) for v in tf.trainable_variables())
    assert count == num_parameters(cfg)
    if name == "albert_base":
        assert 11.6e6 < count < 11.8e6          # the paper's "12M" (ALBERT-base, shared)
    if name == "albert_large":
        assert 17.6e6 < count < 17.8e6          # the paper's "18M"


def test_configs_are_googles():
    with open(os.path.join(REPO, "configs", "albert_base.json")) as f:
        base = json.load(f)
    assert (base["hidden_size"], base["num_hidden_layers"], base["num_attention_heads"],
            base["intermediate_size"], base["embedding_size"], base["vocab_size"]) == \
        (768, 12, 12, 3072, 128, 30000)
    with open(os.path.join(REPO, "configs", "albert_xlarge.json")) as f:
        xl = json.load(f)
    assert (xl["hidden_size"], xl["num_hidden_layers"], xl["intermediate_size"]) == (2048, 24, 8192)


@pytest.mark.parametrize("change,message", [
    (dict(hidden_act="gelu_new"), "hidden_act"),
    (dict(hidden_size=25), "not a multiple"),
    (dict(num_hidden_groups=5), "num_hidden_groups"),
    (dict(embedding_size=0), "embedding_size"),
    (dict(ln_type="preln"), "preln"),
    (dict(vocab_size=None), "vocab_size"),
])
def test_bad_config_is_one_clear_error(change, message):
    with pytest.raises(ValueError, match=message):
        modeling.AlbertConfig.from_dict(config_of(**change))


def test_config_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="albert_config_file"):
        modeling.AlbertConfig.from_json_file(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        modeling.AlbertConfig.from_json_file(str(bad))


def save_checkpoint(path, cfg):
    graph = tf.Graph()
    with graph.as_default():
        build_pretraining_graph(cfg)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, path, write_meta_graph=False)
    return path


def test_checkpoint_layout_is_detected(tmp_path):
    google = save_checkpoint(str(tmp_path / "g" / "model.ckpt"), config_of())
    zh = save_checkpoint(str(tmp_path / "z" / "albert_model.ckpt"), config_of(ln_type="postln"))
    assert modeling.detect_checkpoint_variant(google) == "google"
    assert modeling.detect_checkpoint_variant(zh) == "albert_zh"
    # A Google config run on an albert_zh checkpoint switches to albert_zh and says so.
    config, line = modeling.resolve_variant(modeling.AlbertConfig.from_dict(config_of()), zh)
    assert config.variant == "albert_zh" and "albert_zh" in line and "checkpoint" in line
    config, line = modeling.resolve_variant(modeling.AlbertConfig.from_dict(config_of()), None)
    assert config.variant == "google" and "config" in line


def test_bert_checkpoint_is_refused(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        tf.get_variable("bert/encoder/layer_0/attention/self/query/kernel", [4, 4])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            path = tf.train.Saver().save(sess, str(tmp_path / "bert.ckpt"), write_meta_graph=False)
    with pytest.raises(ValueError, match="BERT's layout"):
        modeling.detect_checkpoint_variant(path)
