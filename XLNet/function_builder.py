# coding=utf-8
"""The pretraining graph (zihangdai/xlnet function_builder.two_stream_loss) and the memory carried
across steps as local variables (see XLNet/run_pretraining.py for why)."""

import tensorflow.compat.v1 as tf

from XLNet import modeling


def memory_variables(n_layer, mem_len, bsz, d_model):
    """Per layer a local, non-trainable [mem_len, bsz, d_model] float32 variable of zeros (None
    without memory). Outside model/: not trained, not restored, not exported."""
    if not mem_len:
        return None
    with tf.variable_scope("mems"):
        return [tf.get_local_variable("layer_%d" % i, [mem_len, bsz, d_model], dtype=tf.float32,
                                      initializer=tf.zeros_initializer(), trainable=False)
                for i in range(n_layer)]


def two_stream_loss(xlnet_config, run_config, features, mems, with_logits=False):
    """function_builder.two_stream_loss: returns (loss, new_mems, logits [num_predict, bsz,
    n_token] or None, per-token loss, target, target_mask [num_predict, bsz])."""
    inp_k = tf.transpose(features["input_k"], [1, 0])
    inp_q = tf.transpose(features["input_q"], [1, 0])
    seg_id = tf.transpose(features["seg_id"], [1, 0])
    perm_mask = tf.transpose(features["perm_mask"], [1, 2, 0])
    target_mapping = (tf.transpose(features["target_mapping"], [1, 2, 0])
                      if "target_mapping" in features else None)
    tgt = tf.transpose(features["target"], [1, 0])
    tgt_mask = tf.transpose(features["target_mask"], [1, 0])
    model = modeling.XLNetModel(xlnet_config, run_config, inp_k, seg_id, None, mems=mems,
                                perm_mask=perm_mask, target_mapping=target_mapping, inp_q=inp_q)
    output = model.get_sequence_output()
    with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
        lm_loss = modeling.lm_loss(output, tgt, xlnet_config.n_token, xlnet_config.d_model,
                                   model.get_initializer(), model.get_embedding_table(),
                                   tie_weight=True)
        logits = None
        if with_logits:  # the same logits again, for the eval's accuracy
            bias = tf.get_variable("lm_loss/bias", [xlnet_config.n_token])
            logits = tf.einsum("ibd,nd->ibn", output, model.get_embedding_table()) + bias
    loss = tf.reduce_sum(lm_loss * tgt_mask) / tf.reduce_sum(tgt_mask)
    return loss, model.get_new_memory(), logits, lm_loss, tgt, tgt_mask


def update_memory(mem_vars, new_mems, after):
    """Assign the new memory once `after` (which needs every read of the old one) has run."""
    if not mem_vars:
        return tf.group(after)
    with tf.control_dependencies([after]):
        return tf.group(*[v.assign(m) for v, m in zip(mem_vars, new_mems)])
