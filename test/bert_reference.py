"""An independent numpy BERT forward pass (for tests): Google checkpoint names, float64.

`weights` maps Google variable names (bert/embeddings/word_embeddings, ...) to arrays.
"""
import math

import numpy as np

_erf = np.vectorize(math.erf)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def bert_forward(weights, config, input_ids, input_mask, token_type_ids, act="tanh"):
    """Returns (sequence_output [B, S, H], pooled_output [B, H]) in float64."""
    w = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    gelu = gelu_tanh if act == "tanh" else gelu_erf
    batch, seq = input_ids.shape
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    d = hidden // heads
    e = "bert/embeddings/"
    x = (w[e + "word_embeddings"][input_ids] + w[e + "token_type_embeddings"][token_type_ids]
         + w[e + "position_embeddings"][:seq][None])
    x = layer_norm(x, w[e + "LayerNorm/gamma"], w[e + "LayerNorm/beta"])
    adder = (1.0 - input_mask[:, None, None, :].astype(np.float64)) * -10000.0
    for i in range(config["num_hidden_layers"]):
        p = "bert/encoder/layer_%d/" % i

        def dense(t, name):
            return t @ w[p + name + "/kernel"] + w[p + name + "/bias"]

        def split(t):
            return t.reshape(batch, seq, heads, d).transpose(0, 2, 1, 3)

        q = split(dense(x, "attention/self/query"))
        k = split(dense(x, "attention/self/key"))
        v = split(dense(x, "attention/self/value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + adder
        scores = scores - scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        attention = layer_norm(dense(context, "attention/output/dense") + x,
                               w[p + "attention/output/LayerNorm/gamma"],
                               w[p + "attention/output/LayerNorm/beta"])
        intermediate = gelu(dense(attention, "intermediate/dense"))
        x = layer_norm(dense(intermediate, "output/dense") + attention,
                       w[p + "output/LayerNorm/gamma"], w[p + "output/LayerNorm/beta"])
    pooled = np.tanh(x[:, 0] @ w["bert/pooler/dense/kernel"] + w["bert/pooler/dense/bias"])
    return x, pooled


def mean_pool_normalize(sequence_output, input_mask):
    """sentence-transformers' mean pooling over real tokens, then L2 normalisation."""
    mask = input_mask[:, :, None].astype(np.float64)
    pooled = (sequence_output * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def hf_bert_forward(weights, config, input_ids, input_mask, token_type_ids, act="erf"):
    """The same forward pass written against Hugging Face tensor names (Linear: x @ W.T + b), so
    it checks a converted checkpoint independently of the converter's name mapping."""
    w = {k[len("bert."):] if k.startswith("bert.") else k: np.asarray(v, np.float64)
         for k, v in weights.items() if not k.endswith("position_ids")}
    gelu = gelu_tanh if act == "tanh" else gelu_erf
    batch, seq = input_ids.shape
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    d = hidden // heads

    def linear(t, name):
        return t @ w[name + ".weight"].T + w[name + ".bias"]

    def norm(t, name):
        return layer_norm(t, w[name + ".weight"], w[name + ".bias"])

    x = (w["embeddings.word_embeddings.weight"][input_ids]
         + w["embeddings.token_type_embeddings.weight"][token_type_ids]
         + w["embeddings.position_embeddings.weight"][:seq][None])
    x = norm(x, "embeddings.LayerNorm")
    adder = (1.0 - input_mask[:, None, None, :].astype(np.float64)) * -10000.0
    for i in range(config["num_hidden_layers"]):
        p = "encoder.layer.%d." % i

        def split(t):
            return t.reshape(batch, seq, heads, d).transpose(0, 2, 1, 3)

        q = split(linear(x, p + "attention.self.query"))
        k = split(linear(x, p + "attention.self.key"))
        v = split(linear(x, p + "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + adder
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        attention = norm(linear(context, p + "attention.output.dense") + x,
                         p + "attention.output.LayerNorm")
        intermediate = gelu(linear(attention, p + "intermediate.dense"))
        x = norm(linear(intermediate, p + "output.dense") + attention, p + "output.LayerNorm")
    return x
