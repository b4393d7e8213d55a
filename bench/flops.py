"""Analytic FLOP counts of one training step, one function per model family.

Counted: the multiply-adds of the matrix products and convolutions (2 FLOPs each), which are all
but a few per cent of each model's work; element-wise ops, softmax, normalisation and the optimizer
are left out. A training step is 3x the forward pass (the backward pass computes the gradients
with respect to both the activations and the weights: two products of the forward's size each), the
usual convention (e.g. the BERT and ResNet scaling papers). Returned as floats (FLOP per step).
"""


def _mm(m, k, n):
    """FLOPs of an [m, k] x [k, n] matrix product."""
    return 2.0 * m * k * n


def transformer_encoder_forward(batch, seq, hidden, layers, intermediate):
    """BERT/ALBERT post-LN encoder: Q, K, V and output projections, scores, context, FFN."""
    tokens = batch * seq
    per_layer = (4 * _mm(tokens, hidden, hidden)            # query, key, value, attention output
                 + 2 * _mm(batch * seq, hidden, seq)        # scores Q K^T, context P V
                 + 2 * _mm(tokens, hidden, intermediate))   # FFN in and out
    return layers * per_layer


def bert_forward(config, batch, seq, predictions):
    """BERT pretraining forward: encoder + token-type one-hot matmul + pooler + NSP + MLM head."""
    h, v = config["hidden_size"], config["vocab_size"]
    flops = transformer_encoder_forward(batch, seq, h, config["num_hidden_layers"],
                                        config["intermediate_size"])
    flops += _mm(batch * seq, config.get("type_vocab_size", 2), h)   # token-type one-hot lookup
    flops += _mm(batch, h, h) + _mm(batch, h, 2)                      # pooler, NSP
    # MLM transform and decoder (tied to the embedding table)
    flops += _mm(batch * predictions, h, h) + _mm(batch * predictions, h, v)
    return flops


def albert_forward(config, batch, seq, predictions):
    """ALBERT: factorised embedding (E -> H projection), the shared layers run num_hidden_layers
    times, MLM transform H -> E and decoder over E."""
    h, e, v = config["hidden_size"], config["embedding_size"], config["vocab_size"]
    flops = transformer_encoder_forward(batch, seq, h, config["num_hidden_layers"],
                                        config["intermediate_size"])
    flops += _mm(batch * seq, config.get("type_vocab_size", 2), e)    # token-type one-hot lookup
    flops += _mm(batch * seq, e, h)                                   # embedding projection
    flops += _mm(batch, h, h) + _mm(batch, h, 2)                      # pooler, SOP
    flops += _mm(batch * predictions, h, e) + _mm(batch * predictions, e, v)
    return flops


def xlnet_forward(config, batch, seq, mem, predictions, bi_data=True):
    """XLNet two-stream pretraining forward (zihangdai/xlnet's graph).

    Content stream over seq tokens with keys/values over klen = mem + seq and relative positions
    of length rlen = klen + seq (bi-directional); the query stream runs for the `predictions`
    target positions (mapped onto the sequence axis by target_mapping for the attention); the LM
    softmax is tied to the embedding and computed for the targets.
    """
    d, f, v = config["d_model"], config["d_inner"], config["n_token"]
    inner = config["n_head"] * config["d_head"]
    klen = mem + seq
    rlen = klen + seq
    del bi_data  # both directions give the same rlen (the batch is split between them)
    content = (_mm(batch * seq, d, inner)                 # q
               + 2 * _mm(batch * klen, d, inner)          # k, v over mems + h
               + _mm(batch * rlen, d, inner)              # r (relative positions)
               + _mm(batch * seq, inner, klen)            # ac
               + _mm(batch * seq, inner, rlen)            # bd (before rel_shift)
               + _mm(batch * seq, inner, klen)            # attention x v
               + _mm(batch * seq, inner, d)               # output projection
               + 2 * _mm(batch * seq, d, f))              # FFN
    query = (_mm(batch * predictions, d, inner)           # q of the query stream
             + 2 * _mm(batch * predictions * inner, seq, 1)   # target_mapping in and out
             + _mm(batch * seq, inner, klen)              # ac
             + _mm(batch * seq, inner, rlen)              # bd
             + _mm(batch * seq, inner, klen)              # attention x v
             + _mm(batch * predictions, inner, d)         # output projection
             + 2 * _mm(batch * predictions, d, f))        # FFN
    segment = 2 * (_mm(batch * seq * config["n_head"], config["d_head"], 2)   # ef, both streams
                   + _mm(batch * seq * config["n_head"], 2, klen))
    return config["n_layer"] * (content + query + segment) + _mm(batch * predictions, d, v)


def resnext_forward(config, batch, image_size, num_classes=1000):
    """ResNeXt: stem 7x7/2 conv, 3x3/2 max-pool, bottlenecks (1x1, grouped 3x3 with the stride,
    1x1; strided 1x1 projection shortcut in each stage's first block), global pool, dense."""
    def conv(out_hw, k, c_in, c_out, groups=1):
        return 2.0 * batch * out_hw * out_hw * k * k * (c_in // groups) * c_out

    size = -(-image_size // 2)                       # stem: 7x7 stride 2
    flops = conv(size, 7, 3, config["stem_filters"])
    size = -(-size // 2)                             # max-pool stride 2
    channels = config["stem_filters"]
    for stage, (blocks, width) in enumerate(zip(config["layer_counts"], config["widths"])):
        out = width * config["expansion"]
        for block in range(blocks):
            stride = 2 if (block == 0 and stage > 0) else 1
            out_size = -(-size // stride)
            flops += conv(size, 1, channels, width)                            # conv1
            flops += conv(out_size, 3, width, width, config["cardinality"])    # grouped conv2
            flops += conv(out_size, 1, width, out)                             # conv3
            if channels != out or stride != 1:
                flops += conv(out_size, 1, channels, out)                      # shortcut
            channels, size = out, out_size
    return flops + _mm(batch, channels, num_classes)


def training_step(forward_flops):
    """Forward + backward (activation and weight gradients): 3x the forward FLOPs."""
    return 3.0 * forward_flops
