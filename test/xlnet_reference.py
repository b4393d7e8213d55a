"""A direct numpy XLNet forward (float64) for the model tests: loops over query/key positions with
explicit relative distances instead of rel_shift, per-example masks, per-slot query stream."""
import math

import numpy as np


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, beta, gamma, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def sinusoid(distance, d_model):
    inv_freq = 1.0 / (10000 ** (np.arange(0, d_model, 2.0) / d_model))
    angles = distance * inv_freq
    return np.concatenate([np.sin(angles), np.cos(angles)])


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def attend(q, keys, values, k_r_of, b, w, bw, br, bs, seg_embed, seg_diff, visible, scale):
    """One query vector q [n, d] against keys/values [klen, n, d]; k_r_of(j) the position key."""
    klen, n_head, _ = keys.shape
    out = np.zeros((n_head, keys.shape[2]))
    for n in range(n_head):
        scores = np.full(klen, -np.inf)
        for j in range(klen):
            if not visible[j]:
                continue
            ac = np.dot(q[n] + bw[n], keys[j, n])
            bd = np.dot(q[n] + br[n], k_r_of(j)[n])
            ef = np.dot(q[n] + bs[n], seg_embed[int(seg_diff[j]), n]) if seg_embed is not None else 0.0
            scores[j] = (ac + bd + ef) * scale
        prob = softmax(scores)
        out[n] = np.einsum("j,jd->d", prob, values[:, n])
    return out


def xlnet_forward(w, cfg, inp_k, seg_id=None, input_mask=None, mems=None, perm_mask=None,
                  target_mapping=None, inp_q=None, bi_data=False, clamp_len=-1, mem_len=0,
                  reuse_len=None):
    """w: {variable name: array}; time-major inputs as the model. Returns (output, new_mems)."""
    p = "model/transformer/"
    n_layer, d_model, n_head, d_head = cfg["n_layer"], cfg["d_model"], cfg["n_head"], cfg["d_head"]
    qlen, bsz = inp_k.shape
    mlen = mems[0].shape[0] if mems is not None else 0
    klen = mlen + qlen
    scale = 1.0 / math.sqrt(d_head)
    act = gelu_tanh if cfg["ff_activation"] == "gelu" else (lambda x: np.maximum(x, 0))
    two_stream = inp_q is not None

    def clamp(d):
        return max(-clamp_len, min(clamp_len, d)) if clamp_len > 0 else d

    def visible(i, b, content):
        """Keys (memory + current) query position i of example b may see."""
        vis = np.ones(klen, bool)
        has_mask = input_mask is not None or perm_mask is not None
        if not has_mask:
            return vis
        for j in range(qlen):
            m = (input_mask[j, b] if input_mask is not None else 0) + \
                (perm_mask[i, j, b] if perm_mask is not None else 0)
            vis[mlen + j] = not (m > 0) or (content and i == j)
        return vis

    emb = w[p + "word_embedding/lookup_table"].astype(np.float64)
    h = emb[inp_k]
    if two_stream:
        mask_emb = w[p + "mask_emb/mask_emb"][0, 0]
        if target_mapping is not None:
            g = np.tile(mask_emb, (target_mapping.shape[0], bsz, 1))
        else:
            g = inp_q[:, :, None] * mask_emb + (1 - inp_q[:, :, None]) * h
    untie = cfg["untie_r"]

    def rel_enc(distance, b):
        backward = bi_data and b >= bsz // 2
        return sinusoid(clamp(-distance if backward else distance), d_model)

    new_mems = []
    for layer in range(n_layer):
        if mem_len:
            cur = h[:reuse_len] if reuse_len else h
            cat = np.concatenate([mems[layer], cur], 0) if mems is not None else cur
            new_mems.append(cat[-mem_len:])
        lp = p + "layer_%d/" % layer
        get = lambda name: w[lp + name].astype(np.float64)  # noqa: E731
        bw = w[p + "r_w_bias"][layer] if untie else w[p + "r_w_bias"]
        br = w[p + "r_r_bias"][layer] if untie else w[p + "r_r_bias"]
        if seg_id is not None:
            bs = w[p + "r_s_bias"][layer] if untie else w[p + "r_s_bias"]
            seg_embed = w[p + "seg_embed"][layer]
        else:
            bs, seg_embed = np.zeros_like(bw), None
        cat = np.concatenate([mems[layer], h], 0) if mems is not None else h
        Wq, Wk, Wv, Wr, Wo = (get("rel_attn/%s/kernel" % x) for x in "qkvro")
        keys = np.einsum("jbh,hnd->jbnd", cat, Wk)
        values = np.einsum("jbh,hnd->jbnd", cat, Wv)

        def attn_at(q, i, b, content):
            """Attention of query vector q (at current position i of example b)."""
            seg_diff = None
            if seg_id is not None:
                cat_seg = np.concatenate([np.zeros(mlen, int), seg_id[:, b]])
                seg_diff = (cat_seg != seg_id[i, b]).astype(int)

            def k_r_of(j):
                r = rel_enc((mlen + i) - j, b)
                return np.einsum("h,hnd->nd", r, Wr)
            return attend(q, keys[:, b], values[:, b], k_r_of, b, w, bw, br, bs, seg_embed,
                          seg_diff, visible(i, b, content), scale)

        def post(x, vec, name_prefix="rel_attn/LayerNorm/"):
            out = np.einsum("nd,hnd->h", vec, Wo)
            return layer_norm(out + x, get(name_prefix + "beta"), get(name_prefix + "gamma"))

        def ffn(x):
            y = act(x @ get("ff/layer_1/kernel") + get("ff/layer_1/bias"))
            y = y @ get("ff/layer_2/kernel") + get("ff/layer_2/bias")
            return layer_norm(y + x, get("ff/LayerNorm/beta"), get("ff/LayerNorm/gamma"))

        new_h = np.zeros_like(h)
        for i in range(qlen):
            for b in range(bsz):
                q = np.einsum("h,hnd->nd", h[i, b], Wq)
                new_h[i, b] = ffn(post(h[i, b], attn_at(q, i, b, content=True)))
        if two_stream:
            new_g = np.zeros_like(g)
            for m in range(g.shape[0]):
                for b in range(bsz):
                    q = np.einsum("h,hnd->nd", g[m, b], Wq)
                    if target_mapping is not None:
                        vec = np.zeros((n_head, d_head))
                        for i in range(qlen):
                            if target_mapping[m, i, b]:
                                vec += target_mapping[m, i, b] * attn_at(q, i, b, content=False)
                    else:
                        vec = attn_at(q, m, b, content=False)
                    new_g[m, b] = ffn(post(g[m, b], vec))
            g = new_g
        h = new_h
    return (g if two_stream else h), new_mems
