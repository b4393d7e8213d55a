"""An independent numpy ALBERT forward pass and pretraining losses (for tests), float64.

Written from the two originals' maths, against their checkpoint names: `weights` maps names
(bert/embeddings/word_embeddings, ...) to arrays; `config` is a plain dict.
  variant "google":    google-research/albert
  variant "albert_zh": brightmart/albert_zh
"""
import math

import numpy as np


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _block(w, p, x, mask, heads, names):
    """One post-LN attention + FFN block; `names` maps the roles onto the layout's scopes."""
    batch, seq, hidden = x.shape
    d = hidden // heads

    def dense(t, name):
        return t @ w[p + name + "/kernel"] + w[p + name + "/bias"]

    def split(t):
        return t.reshape(batch, seq, heads, d).transpose(0, 2, 1, 3)

    q = split(dense(x, names["self"] + "/query"))
    k = split(dense(x, names["self"] + "/key"))
    v = split(dense(x, names["self"] + "/value"))
    adder = (1.0 - mask[:, None, None, :].astype(np.float64)) * -10000.0
    probs = _softmax(q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + adder)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
    ln1 = names["ln1"]
    attention = layer_norm(dense(context, names["attn_out"]) + x,
                           w[p + ln1 + "/gamma"], w[p + ln1 + "/beta"])
    inter = gelu_tanh(dense(attention, names["ffn_in"]))
    ln2 = names["ln2"]
    return layer_norm(dense(inter, names["ffn_out"]) + attention,
                      w[p + ln2 + "/gamma"], w[p + ln2 + "/beta"])


GOOGLE_NAMES = {"self": "attention_1/self", "attn_out": "attention_1/output/dense",
                "ln1": "LayerNorm", "ffn_in": "ffn_1/intermediate/dense",
                "ffn_out": "ffn_1/intermediate/output/dense", "ln2": "LayerNorm_1"}
BERT_NAMES = {"self": "attention/self", "attn_out": "attention/output/dense",
              "ln1": "attention/output/LayerNorm", "ffn_in": "intermediate/dense",
              "ffn_out": "output/dense", "ln2": "output/LayerNorm"}


def albert_forward(weights, config, input_ids, input_mask, token_type_ids, variant="google"):
    """Returns (all block outputs [list of [B, S, H]], pooled_output [B, H])."""
    w = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    seq = input_ids.shape[1]
    e = "bert/embeddings/"
    words = w[e + "word_embeddings"][input_ids]                       # [B, S, E]
    if variant == "albert_zh":
        words = words @ w[e + "word_embeddings_2"]                     # [B, S, H], no bias
    x = words + w[e + "token_type_embeddings"][token_type_ids] + w[e + "position_embeddings"][:seq]
    x = layer_norm(x, w[e + "LayerNorm/gamma"], w[e + "LayerNorm/beta"])
    heads = config["num_attention_heads"]
    outputs = []
    if variant == "google":
        if config["embedding_size"] != config["hidden_size"]:
            x = (x @ w["bert/encoder/embedding_hidden_mapping_in/kernel"]
                 + w["bert/encoder/embedding_hidden_mapping_in/bias"])
        layers, groups = config["num_hidden_layers"], config.get("num_hidden_groups", 1)
        for layer in range(layers):
            group = (layer * groups) // layers
            for inner in range(config.get("inner_group_num", 1)):
                p = "bert/encoder/transformer/group_%d/inner_group_%d/" % (group, inner)
                x = _block(w, p, x, input_mask, heads, GOOGLE_NAMES)
                outputs.append(x)
    else:
        for _ in range(config["num_hidden_layers"]):
            x = _block(w, "bert/encoder/layer_shared/", x, input_mask, heads, BERT_NAMES)
            outputs.append(x)
    pooled = np.tanh(x[:, 0] @ w["bert/pooler/dense/kernel"] + w["bert/pooler/dense/bias"])
    return outputs, pooled


def pretraining_losses(weights, sequence_output, pooled, positions, label_ids, label_weights,
                       sop_labels, variant="google"):
    """(masked LM loss, sentence-order loss) as the originals' run_pretraining computes them."""
    w = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    batch = sequence_output.shape[0]
    picked = sequence_output[np.arange(batch)[:, None], positions].reshape(
        -1, sequence_output.shape[-1])
    t = picked @ w["cls/predictions/transform/dense/kernel"] + w["cls/predictions/transform/dense/bias"]
    t = layer_norm(gelu_tanh(t), w["cls/predictions/transform/LayerNorm/gamma"],
                   w["cls/predictions/transform/LayerNorm/beta"])
    if variant == "albert_zh":
        t = t @ w["bert/embeddings/word_embeddings_2"].T
    logits = t @ w["bert/embeddings/word_embeddings"].T + w["cls/predictions/output_bias"]
    log_probs = _log_softmax(logits)
    per_example = -log_probs[np.arange(log_probs.shape[0]), label_ids.reshape(-1)]
    weights_flat = label_weights.reshape(-1).astype(np.float64)
    mlm = (weights_flat * per_example).sum() / (weights_flat.sum() + 1e-5)
    sop_logits = (pooled @ w["cls/seq_relationship/output_weights"].T
                  + w["cls/seq_relationship/output_bias"])
    sop_log_probs = _log_softmax(sop_logits)
    sop = -sop_log_probs[np.arange(batch), sop_labels.reshape(-1)].mean()
    return mlm, sop
