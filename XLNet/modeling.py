# coding=utf-8
"""XLNet: the Transformer-XL backbone with two-stream attention (zihangdai/xlnet modeling.py + xlnet.py).

Tensors are time-major as in the original: token ids [len, bsz], hidden states [len, bsz, d_model],
attention scores [qlen, klen, bsz, n_head]. Variable names and shapes are the original's, so official
checkpoints (xlnet_model.ckpt) load and exports read back in other XLNet tools:

    model/transformer/word_embedding/lookup_table            [n_token, d_model]
    model/transformer/mask_emb/mask_emb                      [1, 1, d_model]      (two-stream only)
    model/transformer/{r_w_bias,r_r_bias,r_s_bias}           [n_layer, n_head, d_head] (untie_r)
                                                             or [n_head, d_head]
    model/transformer/seg_embed                              [n_layer, 2, n_head, d_head]
    model/transformer/layer_{i}/rel_attn/{q,k,v,r,o}/kernel  [d_model, n_head, d_head]
    model/transformer/layer_{i}/rel_attn/LayerNorm/{beta,gamma}
    model/transformer/layer_{i}/ff/{layer_1,layer_2}/{kernel,bias}, .../ff/LayerNorm/{beta,gamma}
    model/lm_loss/bias                                       [n_token] (output tied to the embedding)
    model/sequnece_summary/summary/{kernel,bias}             (the original's spelling)
    model/classification_{task}/logit/..., model/regression_{task}/logit/...

Differences from the original, none of which change outputs: embeddings use a gather (the original's
TPU one-hot matmul gives the same values), dropout goes through npu_ops.dropout, and with bi_data the
batch size is checked for real (the original's `assert bsz % 2 == 0` compares a Tensor and fails in
graph mode, zihangdai/xlnet issues #132 and #196).
"""

import json
import math

import tensorflow.compat.v1 as tf

from common import transformer

LAYER_NORM_EPSILON = 1e-12  # the variance epsilon of the original's contrib layer_norm


class ConfigError(ValueError):
    """A model or run config that cannot work (one line, names the field)."""


# ----------------------------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------------------------

class XLNetConfig(object):
    """What a checkpoint fixes (xlnet_config.json): n_layer, d_model, n_head, d_head, d_inner,
    ff_activation ("relu" | "gelu"), untie_r, n_token."""

    keys = ("n_layer", "d_model", "n_head", "d_head", "d_inner", "ff_activation", "untie_r",
            "n_token")

    def __init__(self, n_layer, d_model, n_head, d_head, d_inner, ff_activation, untie_r, n_token):
        self.n_layer = n_layer
        self.d_model = d_model
        self.n_head = n_head
        self.d_head = d_head
        self.d_inner = d_inner
        self.ff_activation = ff_activation
        self.untie_r = untie_r
        self.n_token = n_token
        self.validate()

    def validate(self, source="config"):
        for key in ("n_layer", "d_model", "n_head", "d_head", "d_inner", "n_token"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError("%s: %s must be a positive integer, got %r" % (source, key, value))
        if self.d_model % 2:
            raise ConfigError("%s: d_model must be even (sinusoid positions), got %d"
                              % (source, self.d_model))
        if self.ff_activation not in ("relu", "gelu"):
            raise ConfigError("%s: ff_activation must be relu or gelu, got %r"
                              % (source, self.ff_activation))
        if not isinstance(self.untie_r, bool):
            raise ConfigError("%s: untie_r must be true or false, got %r" % (source, self.untie_r))

    @classmethod
    def from_dict(cls, values, source="config"):
        missing = [k for k in cls.keys if k not in values]
        if missing:
            raise ConfigError("%s lacks %s" % (source, ", ".join(missing)))
        try:
            return cls(**{k: values[k] for k in cls.keys})
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("config:", "%s:" % source, 1))

    @classmethod
    def from_json_file(cls, path):
        try:
            with open(path, "r", encoding="utf-8") as reader:
                values = json.load(reader)
        except ValueError as exc:
            raise ConfigError("%s is not valid JSON (%s)" % (path, exc))
        if not isinstance(values, dict):
            raise ConfigError("%s must hold a JSON object" % path)
        return cls.from_dict(values, source=path)

    def to_dict(self):
        return {k: getattr(self, k) for k in self.keys}

    def to_json_string(self):
        return json.dumps(self.to_dict(), indent=4, sort_keys=True) + "\n"


class RunConfig(object):
    """What may change from run to run (the original's RunConfig): dropout, dropatt, init
    ("normal" std init_std | "uniform" range init_range), mem_len, reuse_len, bi_data, clamp_len
    (-1 = no clamping), same_length."""

    def __init__(self, is_training, dropout=0.1, dropatt=0.1, init="normal", init_range=0.1,
                 init_std=0.02, mem_len=None, reuse_len=None, bi_data=False, clamp_len=-1,
                 same_length=False):
        if init not in ("normal", "uniform"):
            raise ConfigError("init must be normal or uniform, got %r" % init)
        self.is_training = is_training
        self.dropout = dropout
        self.dropatt = dropatt
        self.init = init
        self.init_range = init_range
        self.init_std = init_std
        self.mem_len = mem_len
        self.reuse_len = reuse_len
        self.bi_data = bi_data
        self.clamp_len = clamp_len
        self.same_length = same_length


def create_run_config(is_training, is_finetune, dropout=0.1, dropatt=0.1, init="normal",
                      init_range=0.1, init_std=0.02, clamp_len=-1, mem_len=None, reuse_len=None,
                      bi_data=False, same_length=False):
    """As the original: fine-tuning keeps clamp_len but drops mem_len, reuse_len, bi_data and
    same_length (they only apply to pretraining)."""
    kwargs = dict(is_training=is_training, dropout=dropout, dropatt=dropatt, init=init,
                  init_range=init_range, init_std=init_std, clamp_len=clamp_len)
    if not is_finetune:
        kwargs.update(mem_len=mem_len, reuse_len=reuse_len, bi_data=bi_data,
                      same_length=same_length)
    return RunConfig(**kwargs)


def get_initializer(run_config):
    if run_config.init == "uniform":
        return tf.random_uniform_initializer(-run_config.init_range, run_config.init_range)
    return tf.random_normal_initializer(stddev=run_config.init_std)


# ----------------------------------------------------------------------------------------------
# Pieces
# ----------------------------------------------------------------------------------------------

def _dropout(x, rate, is_training):
    return transformer.dropout(x, rate) if is_training else x


def _layer_norm(x):
    return transformer.layer_norm(x, name="LayerNorm", epsilon=LAYER_NORM_EPSILON)


def _dense(x, units, initializer, name, activation=None):
    """tf.layers.dense on the last axis (variables <name>/kernel, <name>/bias)."""
    shape = transformer.get_shape_list(x)
    out = transformer.dense(transformer.reshape_to_matrix(x), units, activation=activation,
                            kernel_initializer=initializer, name=name)
    return tf.reshape(out, shape[:-1] + [units]) if len(shape) != 2 else out


def positional_embedding(pos_seq, inv_freq, bsz=None):
    """[len] positions -> [len, 1 or bsz, d_model]: sin of pos*inv_freq, then cos (concatenated)."""
    sinusoid = tf.einsum("i,d->id", pos_seq, inv_freq)
    pos_emb = tf.concat([tf.sin(sinusoid), tf.cos(sinusoid)], -1)[:, None, :]
    if bsz is not None:
        pos_emb = tf.tile(pos_emb, [1, bsz, 1])
    return pos_emb


def _check_even_batch(bsz, static_bsz):
    """bi_data splits the batch into forward and backward halves: the batch size must be even.
    Checked at graph construction when the size is static, else by an op at run time."""
    if static_bsz is not None:
        if static_bsz % 2:
            raise ConfigError("bi_data=True needs an even batch size, got %d" % static_bsz)
        return []
    return [tf.debugging.assert_equal(bsz % 2, 0, message="bi_data=True needs an even batch size")]


def relative_positional_encoding(qlen, klen, d_model, clamp_len, attn_type, bi_data, bsz=None,
                                 static_bsz=None):
    """Sinusoid encodings of the relative distances klen, klen-1, ..., -qlen+1 ('bi') or
    klen..0 ('uni'), [klen+qlen or klen, bsz, d_model]; clamped to [-clamp_len, clamp_len] when
    clamp_len > 0. With bi_data the first half of the batch gets the forward distances and the
    second half the negated (backward) ones."""
    freq_seq = tf.range(0, d_model, 2.0)
    inv_freq = 1 / (10000 ** (freq_seq / d_model))
    if attn_type == "bi":
        beg, end = klen, -qlen
    elif attn_type == "uni":
        beg, end = klen, -1
    else:
        raise ConfigError("unknown attn_type %r (bi|uni)" % attn_type)

    def clamp(seq):
        return tf.clip_by_value(seq, -clamp_len, clamp_len) if clamp_len > 0 else seq

    fwd_pos_seq = clamp(tf.range(beg, end, -1.0))
    if not bi_data:
        return positional_embedding(fwd_pos_seq, inv_freq, bsz)
    bwd_pos_seq = clamp(tf.range(-beg, -end, 1.0))
    checks = _check_even_batch(bsz, static_bsz) if bsz is not None else []
    with tf.control_dependencies(checks):
        # bsz - bsz // 2 equals bsz // 2 for the even sizes that pass the check; it keeps the
        # shapes consistent while an odd batch is being refused.
        fwd_pos_emb = positional_embedding(fwd_pos_seq, inv_freq,
                                           None if bsz is None else bsz // 2)
        bwd_pos_emb = positional_embedding(bwd_pos_seq, inv_freq,
                                           None if bsz is None else bsz - bsz // 2)
    return tf.concat([fwd_pos_emb, bwd_pos_emb], axis=1)


def rel_shift(x, klen=-1):
    """Turns scores against the relative-distance axis into scores against key positions:
    [qlen, rlen, ...] -> [qlen, klen, ...] where out[i, j] = x[i, j + qlen - i] (Transformer-XL)."""
    x_size = tf.shape(x)
    x = tf.reshape(x, [x_size[1], x_size[0], x_size[2], x_size[3]])
    x = x[1:]
    x = tf.reshape(x, [x_size[0], x_size[1] - 1, x_size[2], x_size[3]])
    return x[:, :klen]


def head_projection(h, d_model, n_head, d_head, initializer, name):
    """[len, bsz, d_model] -> [len, bsz, n_head, d_head] with a 3-D kernel <name>/kernel."""
    weight = tf.get_variable("%s/kernel" % name, [d_model, n_head, d_head], dtype=h.dtype,
                             initializer=initializer)
    return tf.einsum("ibh,hnd->ibnd", h, weight)


def post_attention(h, attn_vec, d_model, n_head, d_head, dropout, is_training, initializer,
                   residual=True):
    """Output projection o/kernel [d_model, n_head, d_head], dropout, residual, LayerNorm."""
    proj_o = tf.get_variable("o/kernel", [d_model, n_head, d_head], dtype=h.dtype,
                             initializer=initializer)
    attn_out = _dropout(tf.einsum("ibnd,hnd->ibh", attn_vec, proj_o), dropout, is_training)
    return _layer_norm(attn_out + h if residual else attn_out)


def abs_attn_core(q_head, k_head, v_head, attn_mask, dropatt, is_training, scale):
    score = tf.einsum("ibnd,jbnd->ijbn", q_head, k_head) * scale
    if attn_mask is not None:
        score = score - 1e30 * attn_mask
    prob = _dropout(tf.nn.softmax(score, 1), dropatt, is_training)
    return tf.einsum("ijbn,jbnd->ibnd", prob, v_head)


def rel_attn_core(q_head, k_head_h, v_head_h, k_head_r, seg_embed, seg_mat, r_w_bias, r_r_bias,
                  r_s_bias, attn_mask, dropatt, is_training, scale):
    """Relative attention: content (ac) + position (bd, rel-shifted) + segment (ef) scores,
    masked with -1e30 where attn_mask is 1, softmax over keys (axis 1)."""
    ac = tf.einsum("ibnd,jbnd->ijbn", q_head + r_w_bias, k_head_h)
    bd = tf.einsum("ibnd,jbnd->ijbn", q_head + r_r_bias, k_head_r)
    bd = rel_shift(bd, klen=tf.shape(ac)[1])
    if seg_mat is None:
        ef = 0
    else:
        ef = tf.einsum("ibnd,snd->ibns", q_head + r_s_bias, seg_embed)
        ef = tf.einsum("ijbs,ibns->ijbn", seg_mat, ef)
    score = (ac + bd + ef) * scale
    if attn_mask is not None:
        score = score - 1e30 * attn_mask
    prob = _dropout(tf.nn.softmax(score, 1), dropatt, is_training)
    return tf.einsum("ijbn,jbnd->ibnd", prob, v_head_h)


def multihead_attn(q, k, v, attn_mask, d_model, n_head, d_head, dropout, dropatt, is_training,
                   initializer, residual=True, scope="abs_attn"):
    """Absolute-position multi-head attention (the 'attn' sequence summary)."""
    scale = 1 / (d_head ** 0.5)
    with tf.variable_scope(scope):
        q_head = head_projection(q, d_model, n_head, d_head, initializer, "q")
        k_head = head_projection(k, d_model, n_head, d_head, initializer, "k")
        v_head = head_projection(v, d_model, n_head, d_head, initializer, "v")
        attn_vec = abs_attn_core(q_head, k_head, v_head, attn_mask, dropatt, is_training, scale)
        return post_attention(v, attn_vec, d_model, n_head, d_head, dropout, is_training,
                              initializer, residual)


def _concat_mems(mems, h):
    return tf.concat([mems, h], 0) if mems is not None and mems.shape.ndims > 1 else h


def rel_multihead_attn(h, r, r_w_bias, r_r_bias, seg_mat, r_s_bias, seg_embed, attn_mask, mems,
                       d_model, n_head, d_head, dropout, dropatt, is_training, initializer,
                       scope="rel_attn", reuse=None):
    """Content-stream relative attention (fine-tuning / no query stream)."""
    scale = 1 / (d_head ** 0.5)
    with tf.variable_scope(scope, reuse=reuse):
        cat = _concat_mems(mems, h)
        q_head_h = head_projection(h, d_model, n_head, d_head, initializer, "q")
        k_head_h = head_projection(cat, d_model, n_head, d_head, initializer, "k")
        v_head_h = head_projection(cat, d_model, n_head, d_head, initializer, "v")
        k_head_r = head_projection(r, d_model, n_head, d_head, initializer, "r")
        attn_vec = rel_attn_core(q_head_h, k_head_h, v_head_h, k_head_r, seg_embed, seg_mat,
                                 r_w_bias, r_r_bias, r_s_bias, attn_mask, dropatt, is_training,
                                 scale)
        return post_attention(h, attn_vec, d_model, n_head, d_head, dropout, is_training,
                              initializer)


def two_stream_rel_attn(h, g, r, mems, r_w_bias, r_r_bias, seg_mat, r_s_bias, seg_embed,
                        attn_mask_h, attn_mask_g, target_mapping, d_model, n_head, d_head,
                        dropout, dropatt, is_training, initializer, scope="rel_attn"):
    """Content stream h (keys/values from mems + h) and query stream g sharing all weights; g's
    queries attend to the content keys under attn_mask_g, which hides each target's own token."""
    scale = 1 / (d_head ** 0.5)
    with tf.variable_scope(scope, reuse=False):
        cat = _concat_mems(mems, h)
        k_head_h = head_projection(cat, d_model, n_head, d_head, initializer, "k")
        v_head_h = head_projection(cat, d_model, n_head, d_head, initializer, "v")
        k_head_r = head_projection(r, d_model, n_head, d_head, initializer, "r")
        q_head_h = head_projection(h, d_model, n_head, d_head, initializer, "q")
        attn_vec_h = rel_attn_core(q_head_h, k_head_h, v_head_h, k_head_r, seg_embed, seg_mat,
                                   r_w_bias, r_r_bias, r_s_bias, attn_mask_h, dropatt,
                                   is_training, scale)
        output_h = post_attention(h, attn_vec_h, d_model, n_head, d_head, dropout, is_training,
                                  initializer)
    with tf.variable_scope(scope, reuse=True):
        q_head_g = head_projection(g, d_model, n_head, d_head, initializer, "q")
        if target_mapping is not None:
            # Only the num_predict target positions run the query stream: map them to the
            # sequence axis for the scores, and back afterwards.
            q_head_g = tf.einsum("mbnd,mlb->lbnd", q_head_g, target_mapping)
            attn_vec_g = rel_attn_core(q_head_g, k_head_h, v_head_h, k_head_r, seg_embed,
                                       seg_mat, r_w_bias, r_r_bias, r_s_bias, attn_mask_g,
                                       dropatt, is_training, scale)
            attn_vec_g = tf.einsum("lbnd,mlb->mbnd", attn_vec_g, target_mapping)
        else:
            attn_vec_g = rel_attn_core(q_head_g, k_head_h, v_head_h, k_head_r, seg_embed,
                                       seg_mat, r_w_bias, r_r_bias, r_s_bias, attn_mask_g,
                                       dropatt, is_training, scale)
        output_g = post_attention(g, attn_vec_g, d_model, n_head, d_head, dropout, is_training,
                                  initializer)
    return output_h, output_g


def positionwise_ffn(inp, d_model, d_inner, dropout, initializer, activation_type="relu",
                     scope="ff", is_training=True, reuse=None):
    """layer_1 (d_inner, relu|gelu), dropout, layer_2 (d_model), dropout, residual, LayerNorm."""
    if activation_type == "relu":
        activation = tf.nn.relu
    elif activation_type == "gelu":
        activation = transformer.gelu  # the tanh approximation, as the original
    else:
        raise ConfigError("unsupported ff_activation %r (relu|gelu)" % activation_type)
    with tf.variable_scope(scope, reuse=reuse):
        output = _dense(inp, d_inner, initializer, "layer_1", activation=activation)
        output = _dropout(output, dropout, is_training)
        output = _dense(output, d_model, initializer, "layer_2")
        output = _dropout(output, dropout, is_training)
        return _layer_norm(output + inp)


def _create_mask(qlen, mlen, same_length=False):
    """Causal mask [qlen, mlen + qlen]: 1 where a query may not look (future tokens)."""
    ones = tf.ones([qlen, qlen], dtype=tf.float32)
    mask_u = tf.matrix_band_part(ones, 0, -1)
    mask_dia = tf.matrix_band_part(ones, 0, 0)
    ret = tf.concat([tf.zeros([qlen, mlen], dtype=tf.float32), mask_u - mask_dia], 1)
    if same_length:
        mask_l = tf.matrix_band_part(ones, -1, 0)
        ret = tf.concat([ret[:, :qlen] + mask_l - mask_dia, ret[:, qlen:]], 1)
    return ret


def cache_mem(curr_out, prev_mem, mem_len, reuse_len=None):
    """The memory for the next segment: a layer's input, cut to its first reuse_len positions,
    appended to the previous memory, and the last mem_len of that kept (no gradient)."""
    if not mem_len:
        return None
    if reuse_len is not None and reuse_len > 0:
        curr_out = curr_out[:reuse_len]
    new_mem = curr_out[-mem_len:] if prev_mem is None else tf.concat([prev_mem, curr_out],
                                                                     0)[-mem_len:]
    return tf.stop_gradient(new_mem)


# ----------------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------------

def transformer_xl(inp_k, n_token, n_layer, d_model, n_head, d_head, d_inner, dropout, dropatt,
                   attn_type, bi_data, initializer, is_training, mem_len=None, inp_q=None,
                   mems=None, same_length=False, clamp_len=-1, untie_r=False, input_mask=None,
                   perm_mask=None, seg_id=None, reuse_len=None, ff_activation="relu",
                   target_mapping=None, scope="transformer"):
    """The XLNet computation graph (arguments as the original's transformer_xl).

    inp_k: int32 [len, bsz] token ids; seg_id: int32 [len, bsz]; input_mask: float [len, bsz],
    1 on padding; mems: list of n_layer float [mlen, bsz, d_model] or None; perm_mask: float
    [len, len, bsz], 1 where i may not attend to j; target_mapping: float [num_predict, len, bsz];
    inp_q: float [len, bsz], 1 on prediction targets (turns on the query stream).
    Returns (output [len or num_predict, bsz, d_model], new_mems, lookup_table).
    """
    new_mems = []
    with tf.variable_scope(scope):
        bias_shape = [n_layer, n_head, d_head] if untie_r else [n_head, d_head]
        r_w_bias = tf.get_variable("r_w_bias", bias_shape, initializer=initializer)
        r_r_bias = tf.get_variable("r_r_bias", bias_shape, initializer=initializer)

        static_bsz = inp_k.shape.as_list()[1]
        if bi_data:
            # Every op downstream of the ids waits for the check (a mis-shaped einsum can crash
            # the CPU kernel instead of raising).
            with tf.control_dependencies(_check_even_batch(tf.shape(inp_k)[1], static_bsz)):
                inp_k = tf.identity(inp_k)
        bsz = tf.shape(inp_k)[1]
        qlen = tf.shape(inp_k)[0]
        mlen = tf.shape(mems[0])[0] if mems is not None else 0
        klen = mlen + qlen

        if attn_type == "uni":
            attn_mask = _create_mask(qlen, mlen, same_length)[:, :, None, None]
        elif attn_type == "bi":
            attn_mask = None
        else:
            raise ConfigError("unsupported attn_type %r (bi|uni)" % attn_type)

        if input_mask is not None and perm_mask is not None:
            data_mask = input_mask[None] + perm_mask
        elif input_mask is not None:
            data_mask = input_mask[None]
        else:
            data_mask = perm_mask
        if data_mask is not None:
            mems_mask = tf.zeros([tf.shape(data_mask)[0], mlen, bsz], dtype=tf.float32)
            data_mask = tf.concat([mems_mask, data_mask], 1)  # memory is always visible
            attn_mask = (data_mask[:, :, :, None] if attn_mask is None
                         else attn_mask + data_mask[:, :, :, None])
        if attn_mask is not None:
            attn_mask = tf.cast(attn_mask > 0, dtype=tf.float32)
            # The content stream may always see its own position (even a padded one).
            non_tgt_mask = tf.concat([tf.zeros([qlen, mlen], dtype=tf.float32),
                                      -tf.eye(qlen, dtype=tf.float32)], axis=-1)
            non_tgt_mask = tf.cast((attn_mask + non_tgt_mask[:, :, None, None]) > 0,
                                   dtype=tf.float32)
        else:
            non_tgt_mask = None

        with tf.variable_scope("word_embedding"):
            lookup_table = tf.get_variable("lookup_table", [n_token, d_model],
                                           initializer=initializer)
            word_emb_k = tf.nn.embedding_lookup(lookup_table, inp_k)

        if inp_q is not None:
            with tf.variable_scope("mask_emb"):
                mask_emb = tf.get_variable("mask_emb", [1, 1, d_model], dtype=tf.float32)
                if target_mapping is not None:
                    # inp_q's values are not used here: every predicted position starts as mask_emb.
                    word_emb_q = tf.tile(mask_emb, [tf.shape(target_mapping)[0], bsz, 1])
                else:
                    inp_q_ext = inp_q[:, :, None]
                    word_emb_q = inp_q_ext * mask_emb + (1 - inp_q_ext) * word_emb_k
        output_h = _dropout(word_emb_k, dropout, is_training)
        output_g = _dropout(word_emb_q, dropout, is_training) if inp_q is not None else None

        if seg_id is not None:
            r_s_bias = tf.get_variable("r_s_bias", bias_shape, initializer=initializer)
            seg_embed = tf.get_variable("seg_embed", [n_layer, 2, n_head, d_head],
                                        initializer=initializer)
            # seg_mat[i, j] = one_hot(1 if i and j are in different segments); memory counts as
            # segment 0 of its own.
            cat_ids = tf.concat([tf.zeros([mlen, bsz], dtype=tf.int32), seg_id], 0)
            seg_mat = tf.cast(tf.logical_not(tf.equal(seg_id[:, None], cat_ids[None, :])),
                              tf.int32)
            seg_mat = tf.one_hot(seg_mat, 2, dtype=tf.float32)
        else:
            seg_mat = None

        pos_emb = relative_positional_encoding(qlen, klen, d_model, clamp_len, attn_type, bi_data,
                                               bsz=bsz, static_bsz=static_bsz)
        pos_emb = _dropout(pos_emb, dropout, is_training)

        if mems is None:
            mems = [None] * n_layer
        for i in range(n_layer):
            new_mems.append(cache_mem(output_h, mems[i], mem_len, reuse_len))
            r_s_bias_i = None if seg_id is None else (r_s_bias[i] if untie_r else r_s_bias)
            seg_embed_i = None if seg_id is None else seg_embed[i]
            r_w_bias_i = r_w_bias[i] if untie_r else r_w_bias
            r_r_bias_i = r_r_bias[i] if untie_r else r_r_bias
            with tf.variable_scope("layer_{}".format(i)):
                if inp_q is not None:
                    output_h, output_g = two_stream_rel_attn(
                        h=output_h, g=output_g, r=pos_emb, mems=mems[i], r_w_bias=r_w_bias_i,
                        r_r_bias=r_r_bias_i, seg_mat=seg_mat, r_s_bias=r_s_bias_i,
                        seg_embed=seg_embed_i, attn_mask_h=non_tgt_mask, attn_mask_g=attn_mask,
                        target_mapping=target_mapping, d_model=d_model, n_head=n_head,
                        d_head=d_head, dropout=dropout, dropatt=dropatt, is_training=is_training,
                        initializer=initializer)
                    output_g = positionwise_ffn(output_g, d_model, d_inner, dropout, initializer,
                                                ff_activation, is_training=is_training)
                    reuse = True
                else:
                    output_h = rel_multihead_attn(
                        h=output_h, r=pos_emb, r_w_bias=r_w_bias_i, r_r_bias=r_r_bias_i,
                        seg_mat=seg_mat, r_s_bias=r_s_bias_i, seg_embed=seg_embed_i,
                        attn_mask=non_tgt_mask, mems=mems[i], d_model=d_model, n_head=n_head,
                        d_head=d_head, dropout=dropout, dropatt=dropatt, is_training=is_training,
                        initializer=initializer)
                    reuse = False
                output_h = positionwise_ffn(output_h, d_model, d_inner, dropout, initializer,
                                            ff_activation, is_training=is_training, reuse=reuse)

        output = _dropout(output_g if inp_q is not None else output_h, dropout, is_training)
        return output, new_mems, lookup_table


def lm_loss(hidden, target, n_token, d_model, initializer, lookup_table=None, tie_weight=False):
    """Per-token LM cross-entropy [len, bsz]; with tie_weight the softmax weight is the embedding
    and only model/lm_loss/bias is created."""
    with tf.variable_scope("lm_loss"):
        if tie_weight:
            if lookup_table is None:
                raise ConfigError("lm_loss: tie_weight needs the lookup_table")
            softmax_w = lookup_table
        else:
            softmax_w = tf.get_variable("weight", [n_token, d_model], initializer=initializer)
        softmax_b = tf.get_variable("bias", [n_token], initializer=tf.zeros_initializer())
        logits = tf.einsum("ibd,nd->ibn", hidden, softmax_w) + softmax_b
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=logits)


SUMMARY_TYPES = ("last", "first", "mean", "attn")


def summarize_sequence(summary_type, hidden, d_model, n_head, d_head, dropout, dropatt, input_mask,
                       is_training, initializer, scope=None, reuse=None, use_proj=True):
    """[len, bsz, d_model] -> [bsz, d_model]: the last / first position, the mean, or attention
    from a learnt query; then (use_proj) a tanh dense layer 'summary', then dropout."""
    with tf.variable_scope(scope or "sequnece_summary", reuse=reuse):
        if summary_type == "last":
            summary = hidden[-1]
        elif summary_type == "first":
            summary = hidden[0]
        elif summary_type == "mean":
            summary = tf.reduce_mean(hidden, axis=0)
        elif summary_type == "attn":
            bsz = tf.shape(hidden)[1]
            summary_bias = tf.get_variable("summary_bias", [d_model], initializer=initializer)
            summary_bias = tf.tile(summary_bias[None, None], [1, bsz, 1])
            mask = input_mask[None, :, :, None] if input_mask is not None else None
            summary = multihead_attn(summary_bias, hidden, hidden, mask, d_model, n_head, d_head,
                                     dropout, dropatt, is_training, initializer,
                                     residual=False)[0]
        else:
            raise ConfigError("unsupported summary_type %r (%s)"
                              % (summary_type, "|".join(SUMMARY_TYPES)))
        if use_proj:
            summary = _dense(summary, d_model, initializer, "summary", activation=tf.tanh)
        return _dropout(summary, dropout, is_training)


def classification_loss(hidden, labels, n_class, initializer, scope, reuse=None):
    """Logits (scope/logit) and per-example cross-entropy. Returns (loss [bsz], logits)."""
    with tf.variable_scope(scope, reuse=reuse):
        logits = _dense(hidden, n_class, initializer, "logit")
        one_hot = tf.one_hot(labels, n_class, dtype=hidden.dtype)
        return -tf.reduce_sum(tf.nn.log_softmax(logits) * one_hot, -1), logits


def regression_loss(hidden, labels, initializer, scope, reuse=None):
    """One output (scope/logit) and the squared error. Returns (loss [bsz], predictions [bsz])."""
    with tf.variable_scope(scope, reuse=reuse):
        logits = tf.squeeze(_dense(hidden, 1, initializer, "logit"), axis=-1)
        return tf.square(logits - labels), logits


class XLNetModel(object):
    """XLNet under variable scope 'model' (as the original's XLNetModel; bidirectional attention).

    Args: xlnet_config, run_config, input_ids [len, bsz], seg_ids [len, bsz], input_mask
    [len, bsz] (1 = padding), mems, perm_mask, target_mapping, inp_q: see transformer_xl.
    """

    def __init__(self, xlnet_config, run_config, input_ids, seg_ids, input_mask, mems=None,
                 perm_mask=None, target_mapping=None, inp_q=None):
        self.xlnet_config = xlnet_config
        self.run_config = run_config
        self.initializer = get_initializer(run_config)
        self.input_mask = input_mask
        with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
            self.output, self.new_mems, self.lookup_table = transformer_xl(
                inp_k=input_ids, seg_id=seg_ids, input_mask=input_mask, mems=mems,
                perm_mask=perm_mask, target_mapping=target_mapping, inp_q=inp_q,
                n_token=xlnet_config.n_token, initializer=self.initializer, attn_type="bi",
                n_layer=xlnet_config.n_layer, d_model=xlnet_config.d_model,
                n_head=xlnet_config.n_head, d_head=xlnet_config.d_head,
                d_inner=xlnet_config.d_inner, ff_activation=xlnet_config.ff_activation,
                untie_r=xlnet_config.untie_r, is_training=run_config.is_training,
                dropout=run_config.dropout, dropatt=run_config.dropatt,
                mem_len=run_config.mem_len, reuse_len=run_config.reuse_len,
                bi_data=run_config.bi_data, clamp_len=run_config.clamp_len,
                same_length=run_config.same_length)

    def get_pooled_out(self, summary_type, use_summ_proj=True):
        cfg, run = self.xlnet_config, self.run_config
        with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
            return summarize_sequence(summary_type, self.output, cfg.d_model, cfg.n_head,
                                      cfg.d_head, run.dropout, run.dropatt, self.input_mask,
                                      run.is_training, self.initializer, use_proj=use_summ_proj)

    def get_sequence_output(self):
        return self.output

    def get_new_memory(self):
        return self.new_mems

    def get_embedding_table(self):
        return self.lookup_table

    def get_initializer(self):
        return self.initializer
