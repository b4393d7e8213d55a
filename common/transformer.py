# coding=utf-8
"""Transformer building blocks shared by BERT and ALBERT (numerics of google-research/bert).

Every block takes the names of its variable scopes as parameters, so the same code produces
BERT's `bert/encoder/layer_3/attention/self/query/kernel` and ALBERT's
`bert/encoder/transformer/group_0/inner_group_0/attention_1/self/query/kernel`.
A name may be a path ("attention/output/dense"): each component becomes one variable scope.

Conventions (as in the original):
  * B = batch size, S = sequence length (F = "from", T = "to" sequence), W/H = hidden width,
    N = number of attention heads, D = size per head (W = N * D), V = vocabulary size.
  * Encoder activations are kept as 2-D matrices [B*S, W] between layers (cheaper reshapes).
  * LayerNorm epsilon 1e-12, truncated-normal(0.02) kernels, zero biases, tanh-approximated gelu,
    attention mask adder -10000.0, post-LN residual blocks.
  * Dropout goes through `npu_ops.dropout` from common.npu_compat (keep_prob semantics).
"""

import contextlib
import math

import numpy as np
import tensorflow.compat.v1 as tf

from common.npu_compat import npu_ops


# ----------------------------------------------------------------------------------------------
# Elementary pieces
# ----------------------------------------------------------------------------------------------

def gelu(x):
    """Gaussian Error Linear Unit, tanh approximation (as google-research/bert).

    gelu(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))

    Args:
      x: float Tensor of any shape.
    Returns:
      `x` with the activation applied, same shape.
    """
    cdf = 0.5 * (1.0 + tf.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * tf.pow(x, 3))))
    return x * cdf


def gelu_exact(x):
    """The exact (erf) GELU, x * Phi(x): what PyTorch/Hugging Face BERT models call "gelu".

    Not in the original; selected by hidden_act "gelu_exact" (e.g. for converted MiniLM weights).
    """
    return 0.5 * x * (1.0 + tf.erf(x / math.sqrt(2.0)))


def get_activation(activation_string):
    """Maps an activation name from a model config to a function: "gelu" (tanh approximation, as
    the original), "gelu_exact" (erf), "relu", "tanh", "linear".

    None, "" and "linear" give None (no activation). Anything else raises ValueError.
    """
    if not isinstance(activation_string, str):
        return activation_string
    name = activation_string.lower()
    if name in ("", "linear"):
        return None
    if name == "gelu":
        return gelu
    if name == "gelu_exact":
        return gelu_exact
    if name == "relu":
        return tf.nn.relu
    if name == "tanh":
        return tf.tanh
    raise ValueError("Unsupported activation: %s" % activation_string)


def create_initializer(initializer_range=0.02):
    """Truncated normal initializer with stddev `initializer_range`."""
    return tf.truncated_normal_initializer(stddev=initializer_range)


def dropout(input_tensor, dropout_prob):
    """Drops units with probability `dropout_prob` (None or 0.0: identity).

    Uses `npu_ops.dropout(x, keep_prob)`, the Ascend kernel or its stand-in.
    """
    if dropout_prob is None or dropout_prob == 0.0:
        return input_tensor
    return npu_ops.dropout(input_tensor, 1.0 - dropout_prob)


@contextlib.contextmanager
def scope_path(path, reuse=None):
    """Enters one variable scope per component of `path` ("a/b/c"); "" or None enters nothing."""
    parts = [p for p in (path or "").split("/") if p]
    with contextlib.ExitStack() as stack:
        for part in parts:
            stack.enter_context(tf.variable_scope(part, reuse=reuse))
        yield


def layer_norm(input_tensor, name="LayerNorm", epsilon=1e-12):
    """Layer normalisation over the last axis with variables `<name>/beta` and `<name>/gamma`.

    Args:
      input_tensor: float Tensor [..., W].
      name: variable scope (path) of the parameters.
      epsilon: added to the variance (1e-12 as the original's contrib layer_norm).
    Returns:
      Tensor of the same shape.
    """
    with scope_path(name):
        depth = get_shape_list(input_tensor)[-1]
        beta = tf.get_variable("beta", [depth], initializer=tf.zeros_initializer())
        gamma = tf.get_variable("gamma", [depth], initializer=tf.ones_initializer())
        mean, variance = tf.nn.moments(input_tensor, [-1], keep_dims=True)
        normalized = (input_tensor - mean) * tf.rsqrt(variance + epsilon)
        return normalized * gamma + beta


def layer_norm_and_dropout(input_tensor, dropout_prob, name="LayerNorm"):
    """layer_norm then dropout."""
    return dropout(layer_norm(input_tensor, name=name), dropout_prob)


def dense(input_tensor, units, activation=None, kernel_initializer=None, name="dense"):
    """Fully connected layer on a matrix, variables `<name>/kernel` [W_in, units], `<name>/bias`.

    Args:
      input_tensor: float Tensor [M, W_in].
      units: output width.
      activation: function applied to the output, or None.
      kernel_initializer: initializer of the kernel (default truncated normal 0.02).
      name: variable scope (path).
    Returns:
      float Tensor [M, units].
    """
    shape = get_shape_list(input_tensor, expected_rank=2)
    with scope_path(name):
        kernel = tf.get_variable("kernel", [shape[1], units],
                                 initializer=kernel_initializer or create_initializer())
        bias = tf.get_variable("bias", [units], initializer=tf.zeros_initializer())
        output = tf.nn.bias_add(tf.matmul(input_tensor, kernel), bias)
        if activation is not None:
            output = activation(output)
        return output


# ----------------------------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------------------------

def get_shape_list(tensor, expected_rank=None, name=None):
    """Returns the shape of `tensor` as a list: Python ints where static, scalar Tensors elsewhere.

    Raises ValueError when `expected_rank` (int or list of ints) does not match.
    """
    if expected_rank is not None:
        assert_rank(tensor, expected_rank, name)
    shape = tensor.shape.as_list()
    dynamic = None
    for index, dim in enumerate(shape):
        if dim is None:
            if dynamic is None:
                dynamic = tf.shape(tensor)
            shape[index] = dynamic[index]
    return shape


def assert_rank(tensor, expected_rank, name=None):
    """Raises ValueError if the static rank of `tensor` is not `expected_rank` (int or list)."""
    expected = expected_rank if isinstance(expected_rank, (list, tuple)) else [expected_rank]
    actual = tensor.shape.ndims
    if actual not in expected:
        raise ValueError("Tensor %s has rank %s, expected one of %s (shape %s)"
                         % (name or tensor.name, actual, expected, tensor.shape))


def reshape_to_matrix(input_tensor):
    """[..., W] -> [prod(...), W] (a rank-2 tensor is returned unchanged)."""
    ndims = input_tensor.shape.ndims
    if ndims < 2:
        raise ValueError("Input tensor must have at least rank 2, shape = %s" % input_tensor.shape)
    if ndims == 2:
        return input_tensor
    width = input_tensor.shape[-1]
    return tf.reshape(input_tensor, [-1, width])


def reshape_from_matrix(output_tensor, orig_shape_list):
    """[prod(...), W] -> orig_shape_list[:-1] + [W]."""
    if len(orig_shape_list) == 2:
        return output_tensor
    width = get_shape_list(output_tensor)[-1]
    return tf.reshape(output_tensor, orig_shape_list[0:-1] + [width])


# ----------------------------------------------------------------------------------------------
# Embeddings
# ----------------------------------------------------------------------------------------------

def embedding_lookup(input_ids, vocab_size, embedding_size=128, initializer_range=0.02,
                     word_embedding_name="word_embeddings", use_one_hot_embeddings=False):
    """Looks up word embeddings.

    Args:
      input_ids: int Tensor [B, S] of token ids.
      vocab_size: V.
      embedding_size: E.
      initializer_range: stddev of the table's initializer.
      word_embedding_name: name of the table variable [V, E].
      use_one_hot_embeddings: one-hot matmul instead of gather (faster on TPU-like devices).
    Returns:
      (embeddings [B, S, E], embedding_table [V, E]).
    """
    embedding_table = tf.get_variable(word_embedding_name, [vocab_size, embedding_size],
                                      initializer=create_initializer(initializer_range))
    input_shape = get_shape_list(input_ids)
    flat_ids = tf.reshape(input_ids, [-1])
    if use_one_hot_embeddings:
        one_hot_ids = tf.one_hot(flat_ids, depth=vocab_size)
        output = tf.matmul(one_hot_ids, embedding_table)
    else:
        output = tf.gather(embedding_table, flat_ids)
    output = tf.reshape(output, input_shape + [embedding_size])
    return output, embedding_table


def embedding_postprocessor(input_tensor, use_token_type=False, token_type_ids=None,
                            token_type_vocab_size=16,
                            token_type_embedding_name="token_type_embeddings",
                            use_position_embeddings=True,
                            position_embedding_name="position_embeddings",
                            initializer_range=0.02, max_position_embeddings=512,
                            dropout_prob=0.1, layer_norm_name="LayerNorm"):
    """Adds token-type and position embeddings, then LayerNorm and dropout.

    Args:
      input_tensor: float Tensor [B, S, W] of word embeddings.
      use_token_type: add `token_type_embeddings` [token_type_vocab_size, W] (one-hot matmul).
      token_type_ids: int Tensor [B, S]; required when use_token_type.
      use_position_embeddings: add the first S rows of `position_embeddings`
        [max_position_embeddings, W].
      max_position_embeddings: longest sequence supported; S must not exceed it.
    Returns:
      float Tensor [B, S, W].
    Raises:
      ValueError: S > max_position_embeddings, or token_type_ids missing.
    """
    input_shape = get_shape_list(input_tensor, expected_rank=3)
    batch_size, seq_length, width = input_shape
    output = input_tensor

    if use_token_type:
        if token_type_ids is None:
            raise ValueError("`token_type_ids` must be specified if `use_token_type` is True.")
        token_type_table = tf.get_variable(token_type_embedding_name,
                                           [token_type_vocab_size, width],
                                           initializer=create_initializer(initializer_range))
        flat_token_type_ids = tf.reshape(token_type_ids, [-1])
        one_hot_ids = tf.one_hot(flat_token_type_ids, depth=token_type_vocab_size)
        token_type_embeddings = tf.matmul(one_hot_ids, token_type_table)
        output += tf.reshape(token_type_embeddings, [batch_size, seq_length, width])

    if use_position_embeddings:
        if isinstance(seq_length, int) and seq_length > max_position_embeddings:
            raise ValueError("sequence length %d exceeds max_position_embeddings %d of the model "
                             "config" % (seq_length, max_position_embeddings))
        full_position_embeddings = tf.get_variable(
            position_embedding_name, [max_position_embeddings, width],
            initializer=create_initializer(initializer_range))
        position_embeddings = tf.slice(full_position_embeddings, [0, 0], [seq_length, -1])
        output += tf.expand_dims(position_embeddings, 0)

    return layer_norm_and_dropout(output, dropout_prob, name=layer_norm_name)


def relative_positions_embeddings(length, depth, max_relative_position=64):
    """NEZHA's functional (sinusoidal, parameter-free) relative position encodings.

    The relative distance j - i between query position i and key position j is clipped to
    [-max_relative_position, max_relative_position] and shifted by max_relative_position into
    an index r in [0, 2 * max_relative_position]; row r of the table is
    [sin(r * w_0), cos(r * w_0), sin(r * w_1), cos(r * w_1), ...] with w_k = 10000^(-2k/depth).

    Args:
      length: S (static int).
      depth: D, the attention size per head (even).
    Returns:
      float32 constant Tensor [S, S, D].
    """
    vocab_size = 2 * max_relative_position + 1
    positions = np.arange(length)
    distance = positions[None, :] - positions[:, None]
    index = np.clip(distance, -max_relative_position, max_relative_position) + max_relative_position
    table = np.zeros([vocab_size, depth], dtype=np.float64)
    rows = np.arange(vocab_size, dtype=np.float64)[:, None]
    div_term = np.exp(np.arange(0, depth, 2, dtype=np.float64) * (-math.log(10000.0) / depth))
    table[:, 0::2] = np.sin(rows * div_term)
    table[:, 1::2] = np.cos(rows * div_term)
    return tf.constant(table[index].astype(np.float32))


# ----------------------------------------------------------------------------------------------
# Attention and the transformer layer
# ----------------------------------------------------------------------------------------------

def create_attention_mask_from_input_mask(from_tensor, to_mask):
    """Builds a 3-D attention mask from a 2-D padding mask.

    Args:
      from_tensor: Tensor [B, F, ...] (only B and F are used).
      to_mask: int Tensor [B, T], 1 for real tokens and 0 for padding.
    Returns:
      float Tensor [B, F, T]: mask[b, i, j] = to_mask[b, j].
    """
    from_shape = get_shape_list(from_tensor, expected_rank=[2, 3])
    batch_size, from_seq_length = from_shape[0], from_shape[1]
    to_shape = get_shape_list(to_mask, expected_rank=2)
    to_seq_length = to_shape[1]
    to_mask = tf.cast(tf.reshape(to_mask, [batch_size, 1, to_seq_length]), tf.float32)
    broadcast_ones = tf.ones(shape=[batch_size, from_seq_length, 1], dtype=tf.float32)
    return broadcast_ones * to_mask


def attention_layer(from_tensor, to_tensor, attention_mask=None, num_attention_heads=1,
                    size_per_head=512, query_act=None, key_act=None, value_act=None,
                    attention_probs_dropout_prob=0.0, initializer_range=0.02,
                    do_return_2d_tensor=False, batch_size=None, from_seq_length=None,
                    to_seq_length=None, relative_embeddings=None,
                    query_name="query", key_name="key", value_name="value"):
    """Multi-headed scaled dot-product attention from `from_tensor` to `to_tensor`.

    Variables are created in the caller's scope as `<query_name>/{kernel,bias}` etc., each kernel
    [W_in, N * D].

    Args:
      from_tensor: float Tensor [B, F, W] or [B*F, W] (then pass batch_size, from_seq_length).
      to_tensor: float Tensor [B, T, W] or [B*T, W] (then pass to_seq_length).
      attention_mask: optional float/int Tensor [B, F, T]; 1 = may attend, 0 = masked. Masked
        scores get -10000.0 added before the softmax.
      num_attention_heads: N.  size_per_head: D.
      attention_probs_dropout_prob: dropout on the attention probabilities.
      do_return_2d_tensor: return [B*F, N*D] instead of [B, F, N*D].
      relative_embeddings: optional float Tensor [F, T, D] (NEZHA functional relative positions),
        added to the keys in the scores and to the values in the context.
    Returns:
      float Tensor [B, F, N*D] (or [B*F, N*D]).
    """
    def transpose_for_scores(tensor, seq_length):
        tensor = tf.reshape(tensor, [batch_size, seq_length, num_attention_heads, size_per_head])
        return tf.transpose(tensor, [0, 2, 1, 3])  # [B, N, S, D]

    from_shape = get_shape_list(from_tensor, expected_rank=[2, 3])
    to_shape = get_shape_list(to_tensor, expected_rank=[2, 3])
    if len(from_shape) != len(to_shape):
        raise ValueError("The rank of `from_tensor` must match the rank of `to_tensor`.")
    if len(from_shape) == 3:
        batch_size, from_seq_length, to_seq_length = from_shape[0], from_shape[1], to_shape[1]
    elif batch_size is None or from_seq_length is None or to_seq_length is None:
        raise ValueError("When passing in rank 2 tensors to attention_layer, the values for "
                         "`batch_size`, `from_seq_length`, and `to_seq_length` must all be given.")

    from_tensor_2d = reshape_to_matrix(from_tensor)
    to_tensor_2d = reshape_to_matrix(to_tensor)
    width = num_attention_heads * size_per_head
    init = create_initializer(initializer_range)

    query_layer = dense(from_tensor_2d, width, query_act, init, name=query_name)   # [B*F, N*D]
    key_layer = dense(to_tensor_2d, width, key_act, init, name=key_name)           # [B*T, N*D]
    value_layer = dense(to_tensor_2d, width, value_act, init, name=value_name)     # [B*T, N*D]

    query_layer = transpose_for_scores(query_layer, from_seq_length)  # [B, N, F, D]
    key_layer = transpose_for_scores(key_layer, to_seq_length)        # [B, N, T, D]

    attention_scores = tf.matmul(query_layer, key_layer, transpose_b=True)  # [B, N, F, T]
    if relative_embeddings is not None:
        attention_scores += tf.einsum("bnfd,ftd->bnft", query_layer,
                                      tf.cast(relative_embeddings, query_layer.dtype))
    attention_scores = attention_scores * (1.0 / math.sqrt(float(size_per_head)))

    if attention_mask is not None:
        attention_mask = tf.expand_dims(attention_mask, axis=[1])  # [B, 1, F, T]
        adder = (1.0 - tf.cast(attention_mask, tf.float32)) * -10000.0
        attention_scores += tf.cast(adder, attention_scores.dtype)

    attention_probs = tf.nn.softmax(attention_scores)  # [B, N, F, T]
    attention_probs = dropout(attention_probs, attention_probs_dropout_prob)

    value_layer = tf.reshape(value_layer,
                             [batch_size, to_seq_length, num_attention_heads, size_per_head])
    value_layer = tf.transpose(value_layer, [0, 2, 1, 3])  # [B, N, T, D]
    context_layer = tf.matmul(attention_probs, value_layer)  # [B, N, F, D]
    if relative_embeddings is not None:
        context_layer += tf.einsum("bnft,ftd->bnfd", attention_probs,
                                   tf.cast(relative_embeddings, attention_probs.dtype))
    context_layer = tf.transpose(context_layer, [0, 2, 1, 3])  # [B, F, N, D]

    if do_return_2d_tensor:
        return tf.reshape(context_layer, [batch_size * from_seq_length, width])
    return tf.reshape(context_layer, [batch_size, from_seq_length, width])


# Scope paths of one encoder layer, relative to the layer's own scope.
BERT_LAYER_NAMES = {
    "attention": "attention/self",                        # query/key/value live here
    "attention_output": "attention/output/dense",
    "attention_layer_norm": "attention/output/LayerNorm",
    "intermediate": "intermediate/dense",
    "output": "output/dense",
    "output_layer_norm": "output/LayerNorm",
}

# ALBERT (google-research/albert) names for the same computation.
ALBERT_LAYER_NAMES = {
    "attention": "attention_1/self",
    "attention_output": "attention_1/output/dense",
    "attention_layer_norm": "LayerNorm",
    "intermediate": "ffn_1/intermediate/dense",
    "output": "ffn_1/intermediate/output/dense",
    "output_layer_norm": "LayerNorm_1",
}


def transformer_layer(layer_input, attention_mask, batch_size, seq_length, hidden_size=768,
                      num_attention_heads=12, intermediate_size=3072,
                      intermediate_act_fn=gelu, hidden_dropout_prob=0.1,
                      attention_probs_dropout_prob=0.1, initializer_range=0.02,
                      relative_embeddings=None, names=None):
    """One post-LN transformer layer: self-attention + residual + LN, FFN + residual + LN.

    Args:
      layer_input: float Tensor [B*S, W] (W == hidden_size).
      attention_mask: float Tensor [B, S, S] or None.
      names: dict of scope paths (BERT_LAYER_NAMES by default, see ALBERT_LAYER_NAMES).
    Returns:
      float Tensor [B*S, W].
    """
    names = names or BERT_LAYER_NAMES
    if hidden_size % num_attention_heads != 0:
        raise ValueError("The hidden size (%d) is not a multiple of the number of attention "
                         "heads (%d)" % (hidden_size, num_attention_heads))
    size_per_head = hidden_size // num_attention_heads
    init = create_initializer(initializer_range)

    with scope_path(names["attention"]):
        attention_head = attention_layer(
            from_tensor=layer_input, to_tensor=layer_input, attention_mask=attention_mask,
            num_attention_heads=num_attention_heads, size_per_head=size_per_head,
            attention_probs_dropout_prob=attention_probs_dropout_prob,
            initializer_range=initializer_range, do_return_2d_tensor=True,
            batch_size=batch_size, from_seq_length=seq_length, to_seq_length=seq_length,
            relative_embeddings=relative_embeddings)                 # [B*S, W]
    attention_output = dense(attention_head, hidden_size, None, init,
                             name=names["attention_output"])
    attention_output = dropout(attention_output, hidden_dropout_prob)
    attention_output = layer_norm(attention_output + layer_input,
                                  name=names["attention_layer_norm"])

    intermediate_output = dense(attention_output, intermediate_size, intermediate_act_fn, init,
                                name=names["intermediate"])        # [B*S, I]
    layer_output = dense(intermediate_output, hidden_size, None, init, name=names["output"])
    layer_output = dropout(layer_output, hidden_dropout_prob)
    return layer_norm(layer_output + attention_output, name=names["output_layer_norm"])


def transformer_model(input_tensor, attention_mask=None, hidden_size=768, num_hidden_layers=12,
                      num_attention_heads=12, intermediate_size=3072, intermediate_act_fn=gelu,
                      hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                      initializer_range=0.02, do_return_all_layers=False,
                      use_relative_positions=False, max_relative_position=64,
                      layer_scope="layer_%d", names=None):
    """A stack of `num_hidden_layers` independent transformer layers ("Attention is All You Need").

    Args:
      input_tensor: float Tensor [B, S, W].
      attention_mask: float Tensor [B, S, S] (1 = may attend) or None.
      use_relative_positions: add NEZHA functional relative position encodings in attention.
      layer_scope: scope name pattern of layer i.
    Returns:
      float Tensor [B, S, W] (the last layer), or a list of them (all layers).
    """
    input_shape = get_shape_list(input_tensor, expected_rank=3)
    batch_size, seq_length, input_width = input_shape
    if input_width != hidden_size:
        raise ValueError("The width of the input tensor (%d) != hidden size (%d)"
                         % (input_width, hidden_size))
    if hidden_size % num_attention_heads != 0:
        raise ValueError("The hidden size (%d) is not a multiple of the number of attention "
                         "heads (%d)" % (hidden_size, num_attention_heads))
    relative = None
    if use_relative_positions:
        relative = relative_positions_embeddings(seq_length, hidden_size // num_attention_heads,
                                                 max_relative_position)  # [S, S, D]

    prev_output = reshape_to_matrix(input_tensor)  # [B*S, W]
    all_layer_outputs = []
    for layer_idx in range(num_hidden_layers):
        with tf.variable_scope(layer_scope % layer_idx):
            prev_output = transformer_layer(
                prev_output, attention_mask, batch_size, seq_length, hidden_size,
                num_attention_heads, intermediate_size, intermediate_act_fn,
                hidden_dropout_prob, attention_probs_dropout_prob, initializer_range,
                relative_embeddings=relative, names=names)
            all_layer_outputs.append(prev_output)

    if do_return_all_layers:
        return [reshape_from_matrix(out, input_shape) for out in all_layer_outputs]
    return reshape_from_matrix(prev_output, input_shape)


# ----------------------------------------------------------------------------------------------
# Heads (names as google-research/bert's run_pretraining.py / run_classifier.py)
# ----------------------------------------------------------------------------------------------

def gather_indexes(sequence_tensor, positions):
    """Gathers the vectors at `positions` of each sequence.

    Args:
      sequence_tensor: float Tensor [B, S, W].
      positions: int Tensor [B, P].
    Returns:
      float Tensor [B*P, W].
    """
    batch_size, seq_length, width = get_shape_list(sequence_tensor, expected_rank=3)
    flat_offsets = tf.reshape(tf.range(0, batch_size, dtype=tf.int32) * seq_length, [-1, 1])
    flat_positions = tf.reshape(tf.cast(positions, tf.int32) + flat_offsets, [-1])
    flat_sequence = tf.reshape(sequence_tensor, [batch_size * seq_length, width])
    return tf.gather(flat_sequence, flat_positions)


def masked_lm_output(input_tensor, output_weights, positions, label_ids, label_weights,
                     hidden_size, hidden_act="gelu", initializer_range=0.02,
                     scope="cls/predictions", output_projection=None):
    """Masked-LM head: transform (dense + act + LayerNorm), decoder tied to the embedding table.

    Variables: `<scope>/transform/dense/{kernel,bias}`, `<scope>/transform/LayerNorm/*`,
    `<scope>/output_bias` [V].

    Args:
      input_tensor: float Tensor [B, S, W], the encoder's sequence output.
      output_weights: the word embedding table [V, E] (E == hidden_size for BERT).
      positions: int Tensor [B, P] of masked positions; label_ids: int [B, P];
      label_weights: float [B, P] (1.0 real prediction, 0.0 padding).
      hidden_size: width of the transform (E).
      output_projection: optional [E, W] matrix (brightmart/albert_zh's word_embeddings_2): the
        transform output [B*P, W] is multiplied by its transpose before the decoder.
    Returns:
      (loss scalar, per_example_loss [B*P], log_probs [B*P, V]).
    """
    input_tensor = gather_indexes(input_tensor, positions)  # [B*P, W]
    vocab_size = get_shape_list(output_weights)[0]
    with scope_path(scope):
        with tf.variable_scope("transform"):
            input_tensor = dense(input_tensor, hidden_size, get_activation(hidden_act),
                                 create_initializer(initializer_range), name="dense")
            input_tensor = layer_norm(input_tensor)
        output_bias = tf.get_variable("output_bias", shape=[vocab_size],
                                      initializer=tf.zeros_initializer())
        if output_projection is not None:
            input_tensor = tf.matmul(input_tensor, output_projection, transpose_b=True)  # [B*P, E]
        logits = tf.matmul(input_tensor, output_weights, transpose_b=True)
        logits = tf.nn.bias_add(logits, output_bias)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)  # [B*P, V]

        label_ids = tf.reshape(label_ids, [-1])
        label_weights = tf.reshape(tf.cast(label_weights, tf.float32), [-1])
        one_hot_labels = tf.one_hot(label_ids, depth=vocab_size, dtype=tf.float32)
        per_example_loss = -tf.reduce_sum(log_probs * one_hot_labels, axis=[-1])
        numerator = tf.reduce_sum(label_weights * per_example_loss)
        denominator = tf.reduce_sum(label_weights) + 1e-5
        loss = numerator / denominator
    return loss, per_example_loss, log_probs


def next_sentence_output(input_tensor, labels, hidden_size, initializer_range=0.02,
                         scope="cls/seq_relationship"):
    """Binary sentence-relation head (BERT's NSP, ALBERT's SOP).

    Variables: `<scope>/output_weights` [2, W], `<scope>/output_bias` [2].

    Args:
      input_tensor: float Tensor [B, W], the pooled output.
      labels: int Tensor [B] or [B, 1] (0 = is next / in order, 1 = random / swapped).
    Returns:
      (loss scalar, per_example_loss [B], log_probs [B, 2]).
    """
    with scope_path(scope):
        output_weights = tf.get_variable("output_weights", shape=[2, hidden_size],
                                         initializer=create_initializer(initializer_range))
        output_bias = tf.get_variable("output_bias", shape=[2],
                                      initializer=tf.zeros_initializer())
        logits = tf.matmul(input_tensor, output_weights, transpose_b=True)
        logits = tf.nn.bias_add(logits, output_bias)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
        labels = tf.reshape(labels, [-1])
        one_hot_labels = tf.one_hot(labels, depth=2, dtype=tf.float32)
        per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
        loss = tf.reduce_mean(per_example_loss)
    return loss, per_example_loss, log_probs


def classification_output(pooled_output, labels, num_labels, is_training, dropout_prob=0.1,
                          initializer_range=0.02, weights_name="output_weights",
                          bias_name="output_bias"):
    """Sentence classification head of run_classifier.py.

    Variables (top-level, as the original): `output_weights` [num_labels, W], `output_bias`.

    Args:
      pooled_output: float Tensor [B, W].
      labels: int Tensor [B].
      is_training: apply dropout(`dropout_prob`) to the pooled output.
    Returns:
      (loss scalar, per_example_loss [B], logits [B, num_labels], probabilities [B, num_labels]).
    """
    hidden_size = get_shape_list(pooled_output)[-1]
    output_weights = tf.get_variable(weights_name, [num_labels, hidden_size],
                                     initializer=create_initializer(initializer_range))
    output_bias = tf.get_variable(bias_name, [num_labels], initializer=tf.zeros_initializer())
    with tf.variable_scope("loss"):
        if is_training:
            pooled_output = dropout(pooled_output, dropout_prob)
        logits = tf.matmul(pooled_output, output_weights, transpose_b=True)
        logits = tf.cast(tf.nn.bias_add(logits, output_bias), tf.float32)
        probabilities = tf.nn.softmax(logits, axis=-1)
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        one_hot_labels = tf.one_hot(labels, depth=num_labels, dtype=tf.float32)
        per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
        loss = tf.reduce_mean(per_example_loss)
    return loss, per_example_loss, logits, probabilities
