"""XLNet/modeling.py against a direct numpy forward, the query-stream blindness, padding
invariance, the bi_data batch check, and the original's variable names and shapes."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from XLNet import modeling
from xlnet_reference import xlnet_forward

TINY = dict(n_layer=2, d_model=16, n_head=2, d_head=4, d_inner=24, ff_activation="gelu",
            untie_r=True, n_token=50)


def _config(**overrides):
    values = dict(TINY)
    values.update(overrides)
    return modeling.XLNetConfig(**values)


def _run(fn, seed=0):
    """Builds fn() in a fresh graph with non-trivial random weights; returns (outputs, weights)."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        outputs = fn()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            rng = np.random.RandomState(seed)
            for var in tf.global_variables():  # LayerNorm/biases off their 0/1 initial values
                shape = var.shape.as_list()
                sess.run(var.assign(rng.normal(0, 0.3, shape).astype(np.float32)
                                    + (1.0 if var.op.name.endswith("gamma") else 0.0)))
            values = sess.run(outputs)
            weights = {v.op.name: sess.run(v) for v in tf.global_variables()}
    return values, weights


def _run_config(**kw):
    return modeling.RunConfig(is_training=False, dropout=0.0, dropatt=0.0, **kw)


def test_rel_attn_core_equals_direct_numpy():
    rng = np.random.RandomState(1)
    qlen, mlen, bsz, n, d = 3, 2, 2, 2, 4
    klen = qlen + mlen
    q = rng.randn(qlen, bsz, n, d).astype(np.float32)
    k = rng.randn(klen, bsz, n, d).astype(np.float32)
    v = rng.randn(klen, bsz, n, d).astype(np.float32)
    kr = rng.randn(klen + qlen, bsz, n, d).astype(np.float32)
    bw, br = rng.randn(n, d).astype(np.float32), rng.randn(n, d).astype(np.float32)
    mask = (rng.rand(qlen, klen, bsz, 1) > 0.7).astype(np.float32)
    mask[:, 0] = 0
    with tf.Graph().as_default(), tf.Session() as sess:
        c = tf.constant
        out = sess.run(modeling.rel_attn_core(c(q), c(k), c(v), c(kr), None, None, c(bw), c(br),
                                              None, c(mask), 0.0, False, 0.5))
    want = np.zeros_like(out)
    for i in range(qlen):
        for b in range(bsz):
            for h in range(n):
                s = np.array([(np.dot(q[i, b, h] + bw[h], k[j, b, h])
                               # relative distance (mlen + i) - j sits at index klen - distance
                               + np.dot(q[i, b, h] + br[h], kr[klen - (mlen + i - j), b, h])) * 0.5
                              - 1e30 * mask[i, j, b, 0] for j in range(klen)])
                p = np.exp(s - s.max())
                p /= p.sum()
                want[i, b, h] = p @ v[:, b, h]
    np.testing.assert_allclose(out, want, atol=1e-5)


def _inputs(qlen=5, bsz=2, mlen=3, seed=3):
    rng = np.random.RandomState(seed)
    inp = rng.randint(0, TINY["n_token"], (qlen, bsz)).astype(np.int32)
    seg = rng.randint(0, 2, (qlen, bsz)).astype(np.int32)
    mask = np.zeros((qlen, bsz), np.float32)
    mask[0, 1] = 1.0  # a padded position
    mems = [rng.randn(mlen, bsz, TINY["d_model"]).astype(np.float32)
            for _ in range(TINY["n_layer"])]
    order = [rng.permutation(qlen) for _ in range(bsz)]
    perm = np.zeros((qlen, qlen, bsz), np.float32)
    for b in range(bsz):
        rank = np.argsort(order[b])
        perm[:, :, b] = (rank[None, :] >= rank[:, None]).astype(np.float32)
    targets = [1, 3]
    tmap = np.zeros((len(targets), qlen, bsz), np.float32)
    for m, t in enumerate(targets):
        tmap[m, t, :] = 1.0
    return dict(inp=inp, seg=seg, mask=mask, mems=mems, perm=perm, tmap=tmap)


@pytest.mark.parametrize("untie_r,bi_data,clamp_len,act", [(True, True, 2, "gelu"),
                                                          (False, False, -1, "relu")])
def test_forward_equals_numpy_reference(untie_r, bi_data, clamp_len, act):
    cfg = _config(untie_r=untie_r, ff_activation=act)
    x = _inputs()

    def build():
        run = _run_config(mem_len=4, reuse_len=4, bi_data=bi_data, clamp_len=clamp_len)
        mems = [tf.constant(m) for m in x["mems"]]
        content = modeling.XLNetModel(cfg, run, tf.constant(x["inp"]), tf.constant(x["seg"]),
                                      tf.constant(x["mask"]), mems=mems)
        two = modeling.XLNetModel(cfg, run, tf.constant(x["inp"]), tf.constant(x["seg"]), None,
                                  mems=mems, perm_mask=tf.constant(x["perm"]),
                                  target_mapping=tf.constant(x["tmap"]),
                                  inp_q=tf.zeros(x["inp"].shape))
        return (content.get_sequence_output(), content.get_new_memory(), two.output,
                two.new_mems)

    (h, new_mems, g, g_mems), w = _run(build)
    cfg_d = cfg.to_dict()
    want_h, want_mems = xlnet_forward(w, cfg_d, x["inp"], x["seg"], x["mask"], x["mems"],
                                      bi_data=bi_data, clamp_len=clamp_len, mem_len=4, reuse_len=4)
    np.testing.assert_allclose(h, want_h, atol=1e-5)
    for got, want in zip(new_mems, want_mems):
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(new_mems[0], np.concatenate([x["mems"][0], w[
        "model/transformer/word_embedding/lookup_table"][x["inp"]][:4]])[-4:], atol=1e-6)
    want_g, _ = xlnet_forward(w, cfg_d, x["inp"], x["seg"], None, x["mems"],
                              perm_mask=x["perm"], target_mapping=x["tmap"],
                              inp_q=np.zeros(x["inp"].shape), bi_data=bi_data,
                              clamp_len=clamp_len)
    assert g.shape == (2, 2, TINY["d_model"])
    np.testing.assert_allclose(g, want_g, atol=1e-5)


def test_query_stream_cannot_see_its_own_token():
    cfg = _config()
    rng = np.random.RandomState(3)
    qlen, bsz = 5, 2
    inp = rng.randint(0, TINY["n_token"], (qlen, bsz)).astype(np.int32)
    seg = np.zeros((qlen, bsz), np.int32)
    perm = np.zeros((qlen, qlen, bsz), np.float32)
    targets = []
    for b in range(bsz):
        order = rng.permutation(qlen)
        rank = np.argsort(order)
        # i may see j only when j comes earlier in the factorisation order
        perm[:, :, b] = (rank[None, :] >= rank[:, None]).astype(np.float32)
        targets.append(order[2])  # a middle target: some positions see it, some do not
    inp_q = np.zeros((qlen, bsz), np.float32)
    changed = inp.copy()
    for b, t in enumerate(targets):
        inp_q[t, b] = 1.0
        changed[t, b] = (changed[t, b] + 7) % TINY["n_token"]

    def build():
        return [modeling.XLNetModel(cfg, _run_config(), tf.constant(ids), tf.constant(seg), None,
                                    perm_mask=tf.constant(perm), inp_q=tf.constant(inp_q)).output
                for ids in (inp, changed)]

    g0, g1 = _run(build)[0]
    for b, t in enumerate(targets):
        np.testing.assert_allclose(g0[t, b], g1[t, b], atol=1e-6)  # its own token is invisible
    assert np.abs(g0 - g1).max() > 1e-3  # positions later in the order do see it


def test_padding_invariance_left_padding():
    cfg = _config()
    rng = np.random.RandomState(5)
    real = rng.randint(7, TINY["n_token"], (6, 1)).astype(np.int32)

    def padded(n_pad, pad_id):
        inp = np.concatenate([np.full((n_pad, 1), pad_id, np.int32), real])
        seg = np.concatenate([np.full((n_pad, 1), 4, np.int32), np.zeros((6, 1), np.int32)])
        mask = np.concatenate([np.ones((n_pad, 1)), np.zeros((6, 1))]).astype(np.float32)
        return inp, seg, mask

    def build():
        outs = []
        for n_pad, pad_id in ((0, 5), (3, 5), (5, 9)):
            inp, seg, mask = padded(n_pad, pad_id)
            model = modeling.XLNetModel(cfg, _run_config(clamp_len=3), tf.constant(inp),
                                        tf.constant(seg), tf.constant(mask))
            outs.append(model.get_pooled_out("last"))
            outs.append(model.output[-6:])
        return outs

    outs = _run(build)[0]
    for i in (2, 4):
        np.testing.assert_allclose(outs[i], outs[0], atol=1e-5)
        np.testing.assert_allclose(outs[i + 1], outs[1], atol=1e-5)


def test_bi_data_needs_an_even_batch():
    cfg = _config()
    with tf.Graph().as_default():
        with pytest.raises(modeling.ConfigError, match="even batch size, got 3"):
            modeling.XLNetModel(cfg, _run_config(bi_data=True), tf.zeros([4, 3], tf.int32), None,
                                None)
    def build():
        model = modeling.XLNetModel(cfg, _run_config(bi_data=True), tf.zeros([4, 2], tf.int32),
                                    None, None)
        return model.output
    assert _run(build)[0].shape == (4, 2, 16)


@pytest.mark.parametrize("untie_r", [True, False])
def test_variable_names_and_shapes(untie_r):
    cfg = _config(untie_r=untie_r)
    with tf.Graph().as_default():
        model = modeling.XLNetModel(cfg, _run_config(), tf.zeros([4, 2], tf.int32),
                                    tf.zeros([4, 2], tf.int32), tf.zeros([4, 2]),
                                    perm_mask=tf.zeros([4, 4, 2]), inp_q=tf.zeros([4, 2]))
        summary = model.get_pooled_out("last")
        with tf.variable_scope("model"):
            modeling.lm_loss(model.output, tf.zeros([4, 2], tf.int32), 50, 16, model.initializer,
                             model.lookup_table, tie_weight=True)
            modeling.classification_loss(summary, tf.zeros([2], tf.int32), 3, model.initializer,
                                         "classification_mnli")
            modeling.regression_loss(summary, tf.zeros([2]), model.initializer, "regression_sts-b")
        names = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    bias = [2, 2, 4] if untie_r else [2, 4]
    want = {"model/transformer/word_embedding/lookup_table": [50, 16],
            "model/transformer/mask_emb/mask_emb": [1, 1, 16],
            "model/transformer/r_w_bias": bias, "model/transformer/r_r_bias": bias,
            "model/transformer/r_s_bias": bias, "model/transformer/seg_embed": [2, 2, 2, 4],
            "model/lm_loss/bias": [50],
            "model/sequnece_summary/summary/kernel": [16, 16],
            "model/sequnece_summary/summary/bias": [16],
            "model/classification_mnli/logit/kernel": [16, 3],
            "model/classification_mnli/logit/bias": [3],
            "model/regression_sts-b/logit/kernel": [16, 1],
            "model/regression_sts-b/logit/bias": [1]}
    for i in range(2):
        p = "model/transformer/layer_%d/" % i
        for x in "qkvro":
            want[p + "rel_attn/%s/kernel" % x] = [16, 2, 4]
        for ln in ("rel_attn/LayerNorm/", "ff/LayerNorm/"):
            want[p + ln + "beta"] = [16]
            want[p + ln + "gamma"] = [16]
        want[p + "ff/layer_1/kernel"] = [16, 24]
        want[p + "ff/layer_1/bias"] = [24]
        want[p + "ff/layer_2/kernel"] = [24, 16]
        want[p + "ff/layer_2/bias"] = [16]
    assert names == want


def test_config_errors_are_one_line(tmp_path):
    path = tmp_path / "xlnet_config.json"
    path.write_text('{"n_layer": 2}')
    with pytest.raises(modeling.ConfigError, match="lacks d_model"):
        modeling.XLNetConfig.from_json_file(str(path))
    with pytest.raises(modeling.ConfigError, match="ff_activation"):
        _config(ff_activation="swish")
