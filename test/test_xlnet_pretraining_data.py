"""XLNet pretraining data (XLNet/data_utils.py) against independent numpy statements of what the
original's records and permutation masks must be."""
import json
import os
import random

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from XLNet import data_utils as du

SEP, CLS = du.SEP_ID, du.CLS_ID


def _order_from_mask(perm_mask, attn_pos):
    """The factorisation order that perm_mask implies on the positions it orders (targets and
    <sep>/<cls>): a position's rank is how many of them it may see (0 for the first)."""
    sub = 1 - perm_mask[np.ix_(attn_pos, attn_pos)]
    return sub.sum(1) - np.array([sub[k, k] for k in range(len(attn_pos))])


def _numpy_perm_mask(inputs, is_masked, order):
    """XLNet's rule from the paper and the original's comments, stated directly:
    * context tokens (not drawn, not <sep>/<cls>) are seen by all and see no drawn/func token;
    * a drawn token sees context and the drawn/func tokens before it in the order, not itself;
    * <sep>/<cls> see context, those before them and themselves.
    Returns perm_mask (1 = may not see) and target_mask."""
    n = len(inputs)
    func = np.isin(inputs, [SEP, CLS])
    target = is_masked & ~func
    ordered = target | func
    mask = np.zeros([n, n])
    for i in range(n):
        for j in range(n):
            if not ordered[j]:
                continue                      # context: always visible
            if not ordered[i]:
                mask[i, j] = 1                # context never sees drawn / func tokens
            elif i == j:
                mask[i, j] = 1 if target[i] else 0
            else:
                mask[i, j] = 0 if order[j] < order[i] else 1
    return mask, target.astype(np.float32)


def _parse(records, seq_len, reuse_len, perm_size, num_predict, seed=7):
    with tf.Graph().as_default():
        ds = tf.data.Dataset.from_tensor_slices(records).map(
            du.make_parser(seq_len, reuse_len, perm_size, num_predict, seed=seed))
        nxt = tf.data.make_one_shot_iterator(ds).get_next()
        out = []
        with tf.Session() as sess:
            for _ in records:
                out.append(sess.run(nxt))
    return out


def _record(inputs, targets, seg, masked):
    feature = {"input": inputs, "target": targets, "seg_id": seg, "label": [1],
               "is_masked": masked}
    return tf.train.Example(features=tf.train.Features(feature={
        k: du._int64_feature(v) for k, v in feature.items()})).SerializeToString()


def test_perm_mask_is_a_factorisation_order_and_targets_are_gathered():
    rng = np.random.RandomState(0)
    seq_len, reuse_len, perm_size, num_predict = 16, 8, 4, 7
    records, raw = [], []
    for _ in range(6):
        stream = rng.randint(20, 60, size=seq_len + 1)
        inputs = stream[:seq_len].copy()
        inputs[[10, 13]], inputs[15] = SEP, CLS          # A <sep> B <sep> <cls>
        masked = np.zeros(seq_len, bool)
        masked[rng.choice(seq_len, num_predict, replace=False)] = True
        targets = stream[1:seq_len + 1]
        seg = [0] * 11 + [1] * 3 + [2]
        seg = [0] * (seq_len - len(seg)) + seg
        records.append(_record(inputs, targets, seg, masked))
        raw.append((inputs, targets, masked))
    orders = set()
    for (inputs, targets, masked), got in zip(raw, _parse(records, seq_len, reuse_len,
                                                          perm_size, num_predict)):
        pm = got["perm_mask"]
        # the memory part never sees the second part; the second part sees all of the memory
        assert (pm[:reuse_len, reuse_len:] == 1).all() and (pm[reuse_len:, :reuse_len] == 0).all()
        for lo, hi in ((0, reuse_len), (reuse_len, seq_len)):
            part = slice(lo, hi)
            func = np.isin(inputs[part], [SEP, CLS])
            ordered = np.where(masked[part] | func)[0]
            rank = np.full(hi - lo, -1)
            rank[ordered] = _order_from_mask(pm[part, part], ordered)
            assert sorted(rank[ordered]) == list(range(len(ordered)))   # a total order
            expect, _ = _numpy_perm_mask(inputs[part], masked[part], rank)
            np.testing.assert_array_equal(pm[part, part], expect)
        # targets: the current token, gathered in position order, padded to num_predict
        tgt_pos = np.where(masked & ~np.isin(inputs, [SEP, CLS]))[0]
        k = len(tgt_pos)
        mapping = got["target_mapping"]
        np.testing.assert_array_equal(mapping[:k], np.eye(seq_len)[tgt_pos])
        assert not mapping[k:].any()
        np.testing.assert_array_equal(got["target"][:k], inputs[tgt_pos])
        np.testing.assert_array_equal(got["target_mask"], [1] * k + [0] * (num_predict - k))
        np.testing.assert_array_equal(got["input_q"], np.isin(np.arange(seq_len), tgt_pos))
        np.testing.assert_array_equal(got["input_k"], inputs)
        orders.add(tuple(rank))
    assert len(orders) > 1                               # a fresh order per record


def test_local_perm_is_the_same_shuffle_in_every_block():
    seq_len, perm_size = 12, 4
    inputs = np.arange(20, 20 + seq_len)
    with tf.Graph().as_default(), tf.Session() as sess:
        pm = sess.run(du.local_perm(tf.constant(inputs, tf.int64), tf.constant(inputs, tf.int64),
                                    tf.ones([seq_len], tf.bool), perm_size, seq_len, seed=3)[0])
    rank = _order_from_mask(pm, np.arange(seq_len))
    # block b comes after block b - 1, and inside every block the same random order
    within = rank.reshape(-1, perm_size) - perm_size * np.arange(seq_len // perm_size)[:, None]
    assert sorted(within[0]) == list(range(perm_size))
    assert (within == within[0]).all()
    assert (np.diag(pm) == 1).all()                      # a target never sees itself


def test_sample_mask_counts_spans_and_reverse():
    is_start = np.ones(50, bool)
    np_rng = np.random.RandomState(1)
    seg = np.arange(10, 50)
    for goal in (1, 5, 13, 40):
        m = du.sample_mask(seg, is_start, np.random.RandomState(goal), 6, 1, goal_num_predict=goal)
        assert m.sum() == goal
    # without a goal: spans of 1..5 pieces, each in a context of n * alpha / beta, so about
    # beta / (alpha + beta) of a long all-word-start segment is drawn
    long_seg = np.full(20000, 20)
    m = du.sample_mask(long_seg, is_start, np_rng, 6, 1)
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], m.astype(int), [0]]))))[::2]
    assert runs.max() <= 5 and runs.min() >= 1
    assert abs(m.mean() - 1 / 7.) < 0.02
    # a span starts only at a word start (here every third piece)
    is_start = np.zeros(50, bool)
    is_start[::3] = True
    starts = np.flatnonzero(np.diff(np.concatenate([[0], du.sample_mask(
        np.arange(50), is_start, np.random.RandomState(2), 6, 1).astype(int)])) == 1)
    assert len(starts) and all(is_start[s] for s in starts)
    # reverse: the mask of the reversed segment, flipped back
    fwd = du.sample_mask(seg[::-1], np.ones(50, bool), np.random.RandomState(4), 6, 1,
                         goal_num_predict=9)
    rev = du.sample_mask(seg, np.ones(50, bool), np.random.RandomState(4), 6, 1, reverse=True,
                         goal_num_predict=9)
    np.testing.assert_array_equal(rev, fwd[::-1])


def _stream(n_sent=400, seed=0):
    rng = random.Random(seed)
    ids, sent, flag = [], [], True
    for _ in range(n_sent):
        n = rng.randint(2, 9)
        ids.extend(rng.randint(10, 99) for _ in range(n))
        sent.extend([flag] * n)
        flag = not flag
    return np.array(ids, np.int64), np.array(sent, bool)


@pytest.mark.parametrize("bi_data", [False, True])
def test_records_continue_the_stream(bi_data):
    data, sent = _stream()
    bsz, seq_len, reuse_len, num_predict = 4, 24, 12, 7
    rows, row_sent = du.stream_rows(data, sent, bsz, bi_data)
    if bi_data:   # the second half of the rows: the first half reversed
        half = len(data) // (bsz // 2)
        np.testing.assert_array_equal(rows[0], data[:half])
        np.testing.assert_array_equal(rows[bsz // 2:], rows[:bsz // 2, ::-1])
    else:
        np.testing.assert_array_equal(rows.reshape(-1), data[:rows.size])
    batches = list(du.create_records(rows, row_sent, seq_len, reuse_len, bi_data,
                                     np.ones(100, bool), np.random.RandomState(0),
                                     random.Random(0), 6, 1, num_predict))
    assert len(batches) > 10
    labels = set()
    for t, batch in enumerate(batches):
        assert len(batch) == bsz
        for r, f in enumerate(batch):
            inp, tgt, seg = f["input"], f["target"], np.array(f["seg_id"])
            start = t * reuse_len                      # the memory part walks the row
            np.testing.assert_array_equal(inp[:reuse_len], rows[r, start:start + reuse_len])
            np.testing.assert_array_equal(tgt[:reuse_len], rows[r, start + 1:start + reuse_len + 1])
            assert inp[-1] == CLS and seg[-1] == 2 and (inp == SEP).sum() == 2
            sep_a, sep_b = np.flatnonzero(inp == SEP)
            assert inp[sep_b + 1] == CLS and sep_b == seq_len - 2
            assert (seg[:sep_a + 1] == 0).all() and (seg[sep_a + 1:sep_b + 1] == 1).all()
            a = inp[reuse_len:sep_a]
            b = inp[sep_a + 1:sep_b]
            a_start = start + reuse_len
            np.testing.assert_array_equal(a, rows[r, a_start:a_start + len(a)])
            # next-token targets in A; the <sep> before B predicts B's first token
            np.testing.assert_array_equal(tgt[reuse_len:sep_a],
                                          rows[r, a_start + 1:a_start + len(a) + 1])
            assert tgt[sep_a] == b[0]
            # B is whole text from a sentence start in the row; label 1: where A's text went on
            # (A may have been cut on the right to make room)
            found = [p for p in range(rows.shape[1] - len(b) + 1)
                     if (p == 0 or row_sent[r, p] != row_sent[r, p - 1])
                     and (rows[r, p:p + len(b)] == b).all()]
            assert found
            if f["label"][0] == 1:
                assert any(a_start + len(a) <= p <= a_start + seq_len - reuse_len for p in found)
            labels.add(f["label"][0])
            assert f["is_masked"].sum() == num_predict
            assert f["is_masked"][:reuse_len].sum() == num_predict - num_predict // 2
    assert labels == {0, 1}


def test_option_errors_and_record_lookup(tmp_path):
    with pytest.raises(du.DataError, match="bi_data needs an even batch"):
        du.check_options(16, 8, 5, True, 6, 1)
    with pytest.raises(du.DataError, match="reuse_len=6 must be half"):
        du.check_options(16, 6, 4, False, 6, 1)
    with pytest.raises(du.DataError, match="perm_size=3"):
        du.check_options(16, 8, 4, False, 6, 1, 5, perm_size=3)
    with pytest.raises(du.DataError, match="is not a folder"):
        du.find_record_info(str(tmp_path / "missing"), "train", 4, 16, 8, True, 6, 1)
    name = du.format_filename("record_info-train-0-0", 4, 16, True, "json", 6, 1, 8, False, 5)
    assert name == "record_info-train-0-0.bsz-4.seqlen-16.reuse-8.bi.alpha-6.beta-1.fnp-5.json"
    (tmp_path / name).write_text(json.dumps({"filenames": ["/elsewhere/x.tfrecords"],
                                             "num_batch": 3}))
    with pytest.raises(du.DataError, match=r"has no record_info-train-\*\.bsz-8.*it has "
                                           r"record_info-train-0-0\.bsz-4"):
        du.find_record_info(str(tmp_path), "train", 8, 16, 8, True, 6, 1, num_predict=5)
    with pytest.raises(du.DataError, match="lists x.tfrecords, which is not in"):
        du.find_record_info(str(tmp_path), "train", 4, 16, 8, True, 6, 1, num_predict=5)
    (tmp_path / "x.tfrecords").write_bytes(b"")
    info = du.find_record_info(str(tmp_path), "train", 4, 16, 8, True, 6, 1, num_predict=5)
    assert info == {"filenames": [os.path.join(str(tmp_path), "x.tfrecords")], "num_batch": 3}
