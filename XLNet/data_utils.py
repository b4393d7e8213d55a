# coding=utf-8
"""XLNet pretraining data (zihangdai/xlnet data_utils.py): text -> TFRecords -> permutation-LM
batches.

Creation (`create_data`, or `python XLNet/data_utils.py --input_glob=... --sp_path=...`), as the
original:

* every line of every input file is normalised (preprocess_text) and sentencepiece-encoded;
  consecutive lines alternate their sentence id; a blank line is an <eod> token (use_eod);
  the files (shuffled with seed 100 * task + pass_id) form one stream;
* the stream is cut into bsz_per_host rows (bi_data: bsz/2 forward rows followed by the same rows
  reversed), and every row is walked in steps of reuse_len: a record is the next reuse_len tokens
  (the memory part) followed by `A <sep> B <sep> <cls>` of seq_len - reuse_len tokens, where A
  continues the stream and B is its continuation (label 1) or text from a random place (label 0);
* `is_masked` marks num_predict partial-prediction targets, half in each part: spans of n = 1..5
  pieces (p ~ 1/n), each in a context of n * mask_alpha / mask_beta pieces, starting at a word
  start (a piece with the word-start mark, "<...>" or ASCII punctuation), the rest filled with
  random positions; reversed rows are sampled back to front.
  As in the original, a span counts pieces, not words: its end test looks at the span's first
  piece (`seg[beg]`), which always starts a word. With no word-start marks (Chinese text has no
  spaces) spans are rare and most targets come from the random fill.
* records are written batch by batch (bsz_per_host records per step, row 0 first), so consecutive
  batches continue every row and the memory carries across steps. File names are the original's
  (`format_filename`), with record_info-<split>-<task>-<pass>.<...>.json listing the files.

Features of a record: input, target (next token), seg_id (0 A/memory, 1 B, 2 <cls>), label,
is_masked, all int64 [seq_len] (label [1]).

Input (`get_input_fn`): records in file order (no shuffling: the stream must stay consecutive),
and for each one a fresh factorisation order (`local_perm`) in both parts: perm_mask [seq_len,
seq_len] (1 = i may not see j), target and target_mask, input_k, input_q; with num_predict the
targets are gathered into target_mapping [num_predict, seq_len] (padded when <sep>/<cls> were
drawn). The memory part cannot see the second part, which sees all of the memory part.
"""

import json
import os
import random

import numpy as np
import tensorflow.compat.v1 as tf

if not __package__:  # run as `python XLNet/data_utils.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from common import atomic_io
from common.tokenization import sentencepiece_utils

SPECIAL_IDS = {"<unk>": 0, "<s>": 1, "</s>": 2, "<cls>": 3, "<sep>": 4, "<pad>": 5, "<mask>": 6,
               "<eod>": 7, "<eop>": 8}
CLS_ID = SPECIAL_IDS["<cls>"]
SEP_ID = SPECIAL_IDS["<sep>"]
EOD_ID = SPECIAL_IDS["<eod>"]
MAX_GRAM = 5
_START_PUNCTUATION = set('!"#$%&\"()*+,-./:;?@[\\]^_`{|}~')
FEATURES = ("input", "target", "seg_id", "label", "is_masked")


class DataError(ValueError):
    """Pretraining data or data options that cannot work (one line, names the flag or file)."""


def format_filename(prefix, bsz_per_host, seq_len, bi_data, suffix, mask_alpha=5, mask_beta=1,
                    reuse_len=None, uncased=False, fixed_num_predict=None):
    """The original's file names: <prefix>.bsz-B.seqlen-L.[reuse-R.][uncased.]bi|uni.alpha-A.
    beta-B.[fnp-N.]<suffix>."""
    return "{}.bsz-{}.seqlen-{}.{}{}{}.alpha-{}.beta-{}.{}{}".format(
        prefix, bsz_per_host, seq_len, "" if reuse_len is None else "reuse-%d." % reuse_len,
        "uncased." if uncased else "", "bi" if bi_data else "uni", mask_alpha, mask_beta,
        "" if fixed_num_predict is None else "fnp-%d." % fixed_num_predict, suffix)


def check_options(seq_len, reuse_len, bsz_per_host, bi_data, mask_alpha, mask_beta,
                  num_predict=None, perm_size=None):
    """The original's asserts as one-line errors."""
    if reuse_len < 1 or reuse_len >= seq_len - 3:
        raise DataError("--reuse_len=%d must be in [1, seq_len - 3) (seq_len %d: the second part "
                        "holds A <sep> B <sep> <cls>)" % (reuse_len, seq_len))
    if 2 * reuse_len != seq_len:
        raise DataError("--reuse_len=%d must be half of --seq_len=%d (the original's layout: "
                        "num_predict is split evenly between the two halves)"
                        % (reuse_len, seq_len))
    if bsz_per_host < 1:
        raise DataError("--bsz_per_host must be positive, got %d" % bsz_per_host)
    if bi_data and bsz_per_host % 2:
        raise DataError("--bi_data needs an even batch size (forward and backward halves), "
                        "got %d" % bsz_per_host)
    if not 1 <= mask_beta <= mask_alpha:
        raise DataError("--mask_alpha=%d, --mask_beta=%d: need 1 <= mask_beta <= mask_alpha"
                        % (mask_alpha, mask_beta))
    if num_predict is not None and not 0 < num_predict <= seq_len:
        raise DataError("--num_predict=%d must be in [1, seq_len=%d]" % (num_predict, seq_len))
    if perm_size is not None and (perm_size < 1 or reuse_len % perm_size
                                  or (seq_len - reuse_len) % perm_size):
        raise DataError("--perm_size=%d must divide reuse_len=%d and seq_len - reuse_len=%d"
                        % (perm_size, reuse_len, seq_len - reuse_len))


# ----------------------------------------------------------------------------------------------
# Creation
# ----------------------------------------------------------------------------------------------

def encode_file(path, sp_model, uncased=False, use_eod=True, from_raw_text=True):
    """(ids, sent_ids) of one file: lines alternate the sentence id; a blank line is <eod>
    (counted with the sentence before it) when use_eod, else skipped."""
    ids, sent_ids, sent_id = [], [], True
    with open(path, "r", encoding="utf-8") as reader:
        for line in reader:
            text = line.strip()
            if not text:
                if not use_eod:
                    continue
                sent_id = not sent_id
                cur = [EOD_ID]
            elif from_raw_text:
                cur = sentencepiece_utils.encode_ids(
                    sp_model, sentencepiece_utils.preprocess_text(text, lower=uncased))
            else:
                try:
                    cur = [int(x) for x in text.split()]
                except ValueError:
                    raise DataError("%s: a line is not space-separated ids (from_raw_text=False)"
                                    % path)
            ids.extend(cur)
            sent_ids.extend([sent_id] * len(cur))
            sent_id = not sent_id
    return np.array(ids, dtype=np.int64), np.array(sent_ids, dtype=bool)


def concat_shards(shards, np_rng):
    """The files in a random order as one stream; a file's sentence ids are flipped when needed so
    that its first sentence differs from the previous file's last."""
    order = np_rng.permutation(len(shards))
    data, sent, prev = [], [], None
    for k in order:
        ids, sent_ids = shards[k]
        if not len(ids):
            continue
        if prev is not None and sent_ids[0] == prev:
            sent_ids = np.logical_not(sent_ids)
        data.append(ids)
        sent.append(sent_ids)
        prev = sent_ids[-1]
    if not data:
        return np.zeros([0], np.int64), np.zeros([0], bool)
    return np.concatenate(data), np.concatenate(sent)


def batchify(data, bsz, sent_ids):
    """[n] -> [bsz, n // bsz] (the tail dropped)."""
    steps = len(data) // bsz
    return (data[:bsz * steps].reshape(bsz, steps), sent_ids[:bsz * steps].reshape(bsz, steps))


def stream_rows(data, sent_ids, bsz_per_host, bi_data):
    """The rows of the batch: bi_data gives bsz/2 forward rows, then the same rows reversed."""
    if not bi_data:
        return batchify(data, bsz_per_host, sent_ids)
    fwd, fwd_sent = batchify(data, bsz_per_host // 2, sent_ids)
    return (np.concatenate([fwd, fwd[:, ::-1]], 0), np.concatenate([fwd_sent, fwd_sent[:, ::-1]], 0))


def split_a_and_b(data, sent_ids, begin_idx, tot_len, py_rng, extend_target=False):
    """The original's _split_a_and_b: A starts at begin_idx and ends at a sentence boundary; B is
    what follows (label 1) or, with probability 0.5 or when A has no boundary, whole sentences
    from a random place (label 0); the longer side is cut until len(A) + len(B) = tot_len.
    Returns [A, B, label, new_begin(, A targets, B targets)] or None at the end of the row."""
    data_len = data.shape[0]
    if begin_idx + tot_len >= data_len:
        return None
    end_idx = begin_idx + 1
    cut_points = []
    while end_idx < data_len:
        if sent_ids[end_idx] != sent_ids[end_idx - 1]:
            if end_idx - begin_idx >= tot_len:
                break
            cut_points.append(end_idx)
        end_idx += 1
    a_begin = begin_idx
    if not cut_points or py_rng.random() < 0.5:
        label = 0
        a_end = end_idx if not cut_points else py_rng.choice(cut_points)
        b_len = max(1, tot_len - (a_end - a_begin))
        b_begin = py_rng.randint(0, data_len - 1 - b_len)  # data_len - 1: room for the target
        b_end = b_begin + b_len
        while b_begin > 0 and sent_ids[b_begin - 1] == sent_ids[b_begin]:
            b_begin -= 1
        while b_end < data_len - 1 and sent_ids[b_end - 1] == sent_ids[b_end]:
            b_end += 1
        new_begin = a_end
    else:
        label = 1
        a_end = py_rng.choice(cut_points)
        b_begin, b_end = a_end, end_idx
        new_begin = b_end
    while a_end - a_begin + b_end - b_begin > tot_len:
        if a_end - a_begin > b_end - b_begin:
            a_end -= 1  # cut A on the right only (the LM objective)
        else:
            b_end -= 1
    ret = [data[a_begin:a_end], data[b_begin:b_end], label, new_begin]
    if extend_target:
        if a_end >= data_len or b_end >= data_len:
            return None
        # B's targets start one early: the <sep> before B predicts B's first token.
        ret.extend([data[a_begin + 1:a_end + 1], data[b_begin:b_end + 1]])
    return ret


def is_start_piece(piece):
    return piece.startswith(sentencepiece_utils.SPIECE_UNDERLINE) or piece.startswith("<") \
        or piece in _START_PUNCTUATION


def start_piece_table(sp_model):
    """bool [vocab]: which ids start a word (is_start_piece of their piece)."""
    return np.array([is_start_piece(sp_model.IdToPiece(i))
                     for i in range(sp_model.GetPieceSize())], dtype=bool)


def sample_mask(seg, is_start, np_rng, mask_alpha, mask_beta, reverse=False, max_gram=MAX_GRAM,
                goal_num_predict=None):
    """The original's _sample_mask: bool [len(seg)], exactly goal_num_predict True when given.
    `is_start` is start_piece_table(sp)."""
    seg_len = len(seg)
    mask = np.zeros([seg_len], dtype=bool)
    num_predict = 0
    ngrams = np.arange(1, max_gram + 1, dtype=np.int64)
    pvals = 1. / np.arange(1, max_gram + 1)
    pvals /= pvals.sum(keepdims=True)
    if reverse:
        seg = seg[::-1]
    cur_len = 0
    while cur_len < seg_len:
        if goal_num_predict is not None and num_predict >= goal_num_predict:
            break
        n = np_rng.choice(ngrams, p=pvals)
        if goal_num_predict is not None:
            n = min(n, goal_num_predict - num_predict)
        ctx_size = (n * mask_alpha) // mask_beta
        l_ctx = np_rng.choice(ctx_size)
        r_ctx = ctx_size - l_ctx
        beg = cur_len + l_ctx
        while beg < seg_len and not is_start[seg[beg]]:
            beg += 1
        if beg >= seg_len:
            break
        # The original tests seg[beg] here, which starts a word: the span is n pieces.
        end = beg + 1
        cnt_ngram = 1
        while end < seg_len:
            if is_start[seg[beg]]:
                cnt_ngram += 1
                if cnt_ngram > n:
                    break
            end += 1
        if end >= seg_len:
            break
        mask[beg:end] = True
        num_predict += end - beg
        cur_len = end + r_ctx
    while goal_num_predict is not None and num_predict < goal_num_predict:
        i = np_rng.randint(seg_len)
        if not mask[i]:
            mask[i] = True
            num_predict += 1
    return mask[::-1] if reverse else mask


def _int64_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def create_records(rows, row_sent_ids, seq_len, reuse_len, bi_data, is_start, np_rng, py_rng,
                   mask_alpha, mask_beta, num_predict=None):
    """Yields one list of bsz_per_host feature dicts per batch (the original's create_tfrecords
    loop), until a row has no room left."""
    bsz = rows.shape[0]
    sep, cls = np.array([SEP_ID], np.int64), np.array([CLS_ID], np.int64)
    if num_predict is None:
        goal_0 = goal_1 = None
    else:
        goal_1 = num_predict // 2
        goal_0 = num_predict - goal_1
    i = 0
    while i + seq_len <= rows.shape[1]:
        batch = []
        for idx in range(bsz):
            inp = rows[idx, i:i + reuse_len]
            tgt = rows[idx, i + 1:i + reuse_len + 1]
            results = split_a_and_b(rows[idx], row_sent_ids[idx], i + reuse_len,
                                    seq_len - reuse_len - 3, py_rng, extend_target=True)
            if results is None:
                return
            a_data, b_data, label, _, a_target, b_target = results
            reverse = bi_data and idx >= bsz // 2
            mask_0 = sample_mask(inp, is_start, np_rng, mask_alpha, mask_beta, reverse=reverse,
                                 goal_num_predict=goal_0)
            part_1 = np.concatenate([a_data, sep, b_data, sep, cls])
            mask_1 = sample_mask(part_1, is_start, np_rng, mask_alpha, mask_beta,
                                 reverse=reverse, goal_num_predict=goal_1)
            cat_data = np.concatenate([inp, part_1])
            seg_id = [0] * (reuse_len + len(a_data) + 1) + [1] * (len(b_data) + 1) + [2]
            tgt = np.concatenate([tgt, a_target, b_target, cls, cls])  # the two <cls> pad
            assert len(cat_data) == len(tgt) == len(seg_id) == seq_len
            batch.append({"input": cat_data, "is_masked": np.concatenate([mask_0, mask_1]),
                          "target": tgt, "seg_id": seg_id, "label": [label]})
        yield batch
        i += reuse_len


def create_data(input_paths, sp_path, save_dir, bsz_per_host, seq_len, reuse_len, bi_data=True,
                mask_alpha=6, mask_beta=1, num_predict=85, uncased=False, use_eod=True,
                from_raw_text=True, split="train", task=0, pass_id=0, log=print):
    """Writes save_dir/tfrecords/<split>-<task>-<pass>.<...>.tfrecords and its
    record_info-<split>-<task>-<pass>.<...>.json (and save_dir/corpus_info.json for task 0).
    Returns the record info {"filenames": [...], "num_batch": N}."""
    check_options(seq_len, reuse_len, bsz_per_host, bi_data, mask_alpha, mask_beta, num_predict)
    if not input_paths:
        raise DataError("--input_glob matches no file")
    for path in input_paths:
        if not os.path.isfile(path):
            raise DataError("--input_glob: %s is not a file" % path)
    sp_model = sentencepiece_utils.load_model(sp_path)
    is_start = start_piece_table(sp_model)
    shards = [encode_file(p, sp_model, uncased, use_eod, from_raw_text) for p in input_paths]
    seed = 100 * task + pass_id
    np_rng, py_rng = np.random.RandomState(seed), random.Random(seed)
    data, sent_ids = concat_shards(shards, np_rng)
    if data.size and data.max() >= len(is_start):
        raise DataError("ids up to %d, but %s has %d pieces" % (data.max(), sp_path,
                                                                len(is_start)))
    rows, row_sent = stream_rows(data, sent_ids, bsz_per_host, bi_data)
    log("%d tokens from %d file(s) -> %d rows of %d" % (len(data), len(input_paths),
                                                        rows.shape[0], rows.shape[1]))
    names = dict(bsz_per_host=bsz_per_host, seq_len=seq_len, bi_data=bi_data,
                 mask_alpha=mask_alpha, mask_beta=mask_beta, reuse_len=reuse_len,
                 uncased=uncased, fixed_num_predict=num_predict)
    tfrecord_dir = os.path.join(save_dir, "tfrecords")
    path = os.path.join(tfrecord_dir, format_filename(
        prefix="%s-%d-%d" % (split, task, pass_id), suffix="tfrecords", **names))
    num_batch = 0
    with atomic_io.replacing(path) as tmp:
        with tf.python_io.TFRecordWriter(tmp) as writer:
            for batch in create_records(rows, row_sent, seq_len, reuse_len, bi_data, is_start,
                                        np_rng, py_rng, mask_alpha, mask_beta, num_predict):
                for feature in batch:
                    example = tf.train.Example(features=tf.train.Features(feature={
                        k: _int64_feature(v) for k, v in feature.items()}))
                    writer.write(example.SerializeToString())
                num_batch += 1
    if not num_batch:
        os.remove(path)
        raise DataError("%d tokens are too few for one batch of %d rows x seq_len %d"
                        % (len(data), bsz_per_host, seq_len))
    record_info = {"filenames": [path], "num_batch": num_batch}
    atomic_io.write_json(os.path.join(tfrecord_dir, format_filename(
        prefix="record_info-%s-%d-%d" % (split, task, pass_id), suffix="json", **names)),
        record_info)
    if task == 0:
        atomic_io.write_json(os.path.join(save_dir, "corpus_info.json"), {
            "vocab_size": len(is_start), "bsz_per_host": bsz_per_host, "num_core_per_host": 1,
            "seq_len": seq_len, "reuse_len": reuse_len, "uncased": uncased, "bi_data": bi_data,
            "mask_alpha": mask_alpha, "mask_beta": mask_beta, "num_predict": num_predict,
            "use_eod": use_eod, "sp_path": sp_path, "input_glob": list(input_paths)})
    log("%s: %d batches of %d" % (path, num_batch, bsz_per_host))
    return record_info


# ----------------------------------------------------------------------------------------------
# Input
# ----------------------------------------------------------------------------------------------

def local_perm(inputs, targets, is_masked, perm_size, seq_len, seed=None):
    """The original's _local_perm: one random order of each block of perm_size positions (the
    same order in every block). Returns perm_mask [seq_len, seq_len] (1: i may not attend to j),
    new targets (the current token), target_mask, input_k, input_q.

    Non-target tokens (neither drawn nor <sep>/<cls>) come first in the order: everyone sees them
    and they see no target. A target sees the targets (and <sep>/<cls>) earlier in the order, not
    itself; <sep>/<cls> are no targets but see themselves."""
    index = tf.range(seq_len, dtype=tf.int64)
    index = tf.transpose(tf.reshape(index, [-1, perm_size]))
    index = tf.random_shuffle(index, seed=seed)
    index = tf.reshape(tf.transpose(index), [-1])
    non_func_tokens = tf.logical_not(tf.logical_or(tf.equal(inputs, SEP_ID),
                                                   tf.equal(inputs, CLS_ID)))
    non_mask_tokens = tf.logical_and(tf.logical_not(is_masked), non_func_tokens)
    masked_or_func_tokens = tf.logical_not(non_mask_tokens)
    rev_index = tf.where(non_mask_tokens, -tf.ones([seq_len], dtype=tf.int64), index)
    target_tokens = tf.logical_and(masked_or_func_tokens, non_func_tokens)
    target_mask = tf.cast(target_tokens, tf.float32)
    self_rev_index = tf.where(target_tokens, rev_index, rev_index + 1)
    perm_mask = tf.cast(tf.logical_and(self_rev_index[:, None] <= rev_index[None, :],
                                       masked_or_func_tokens), tf.float32)
    new_targets = tf.concat([inputs[0:1], targets[:-1]], axis=0)
    return perm_mask, new_targets, target_mask, inputs, target_mask


def make_parser(seq_len, reuse_len, perm_size, num_predict=None, seed=None):
    """tf.Example -> the model's features: input_k, input_q, seg_id, label, perm_mask,
    target, target_mask (and target_mapping with num_predict), int32 / float32."""
    non_reuse_len = seq_len - reuse_len

    def parser(record):
        example = tf.parse_single_example(record, {
            "input": tf.FixedLenFeature([seq_len], tf.int64),
            "target": tf.FixedLenFeature([seq_len], tf.int64),
            "seg_id": tf.FixedLenFeature([seq_len], tf.int64),
            "label": tf.FixedLenFeature([1], tf.int64),
            "is_masked": tf.FixedLenFeature([seq_len], tf.int64)})
        inputs = example.pop("input")
        target = example.pop("target")
        is_masked = tf.cast(example.pop("is_masked"), tf.bool)
        part_0 = local_perm(inputs[:reuse_len], target[:reuse_len], is_masked[:reuse_len],
                            perm_size, reuse_len, seed)
        part_1 = local_perm(inputs[reuse_len:], target[reuse_len:], is_masked[reuse_len:],
                            perm_size, non_reuse_len, None if seed is None else seed + 1)
        perm_mask = tf.concat([
            tf.concat([part_0[0], tf.ones([reuse_len, non_reuse_len])], axis=1),
            tf.concat([tf.zeros([non_reuse_len, reuse_len]), part_1[0]], axis=1)], axis=0)
        target, target_mask, input_k, input_q = [tf.concat([a, b], 0)
                                                 for a, b in zip(part_0[1:], part_1[1:])]
        if num_predict is not None:
            bool_target_mask = tf.cast(target_mask, tf.bool)
            indices = tf.boolean_mask(tf.range(seq_len, dtype=tf.int64), bool_target_mask)
            actual = tf.shape(indices)[0]
            pad_len = num_predict - actual  # <sep>/<cls> drawn at creation are no targets
            target_mapping = tf.concat([tf.one_hot(indices, seq_len, dtype=tf.float32),
                                        tf.zeros([pad_len, seq_len], dtype=tf.float32)], 0)
            example["target_mapping"] = tf.reshape(target_mapping, [num_predict, seq_len])
            target = tf.concat([tf.boolean_mask(target, bool_target_mask),
                                tf.zeros([pad_len], dtype=target.dtype)], 0)
            example["target"] = tf.reshape(target, [num_predict])
            example["target_mask"] = tf.reshape(tf.concat(
                [tf.ones([actual], tf.float32), tf.zeros([pad_len], tf.float32)], 0),
                [num_predict])
        else:
            example["target"] = tf.reshape(target, [seq_len])
            example["target_mask"] = tf.reshape(target_mask, [seq_len])
        example["perm_mask"] = tf.reshape(perm_mask, [seq_len, seq_len])
        example["input_k"] = tf.reshape(input_k, [seq_len])
        example["input_q"] = tf.reshape(input_q, [seq_len])
        return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v
                for k, v in example.items()}
    return parser


def find_record_info(record_info_dir, split, bsz_per_host, seq_len, reuse_len, bi_data,
                     mask_alpha, mask_beta, uncased=False, num_predict=None, flag="record_info_dir"):
    """{"filenames": [...], "num_batch": N} from the record_info-<split>-*.json whose name matches
    the options (the original's get_input_fn); files are looked up beside the json."""
    pattern = format_filename(prefix="record_info-%s-*" % split, bsz_per_host=bsz_per_host,
                              seq_len=seq_len, bi_data=bi_data, suffix="json",
                              mask_alpha=mask_alpha, mask_beta=mask_beta, reuse_len=reuse_len,
                              uncased=uncased, fixed_num_predict=num_predict)
    info = {"filenames": [], "num_batch": 0}
    for record_dir in record_info_dir.split(","):
        if not os.path.isdir(record_dir):
            raise DataError("--%s=%s is not a folder" % (flag, record_dir))
        paths = sorted(tf.gfile.Glob(os.path.join(record_dir, pattern)))
        if not paths:
            present = sorted(n for n in os.listdir(record_dir)
                             if n.startswith("record_info-%s-" % split))
            raise DataError("--%s=%s has no %s (the batch size and options must be those the "
                            "data was created with)%s" % (
                                flag, record_dir, pattern,
                                "; it has %s" % ", ".join(present[:3]) if present
                                else "; it has no record_info-%s-*.json" % split))
        for path in paths:
            try:
                with open(path) as reader:
                    cur = json.load(reader)
                names, num_batch = cur["filenames"], int(cur["num_batch"])
            except (ValueError, KeyError, TypeError) as exc:
                raise DataError("%s is not a record info file (%s)" % (path, exc))
            for name in names:
                local = os.path.join(record_dir, os.path.basename(name))
                if not os.path.isfile(local):
                    raise DataError("%s lists %s, which is not in %s"
                                    % (path, os.path.basename(name), record_dir))
                info["filenames"].append(local)
            info["num_batch"] += num_batch
    return info


def input_fn_builder(file_names, batch_size, seq_len, reuse_len, perm_size, num_predict=None,
                     seed=None):
    """The original's parse_files_to_dataset: records in order (the stream stays consecutive),
    parsed afresh every epoch (a new order each time), repeated, static batches. The original
    caches the raw records in memory; here they are read again each epoch (same records; no
    cache to discard when training stops mid-epoch)."""
    def input_fn(params):
        del params
        dataset = tf.data.TFRecordDataset(file_names)
        dataset = dataset.map(make_parser(seq_len, reuse_len, perm_size, num_predict,
                                          seed)).repeat()
        return dataset.batch(batch_size, drop_remainder=True).prefetch(2)
    return input_fn


def main(argv):
    from absl import flags as absl_flags
    del argv
    f = absl_flags.FLAGS
    paths = sorted(tf.gfile.Glob(f.input_glob)) if f.input_glob else []
    create_data(paths[f.task::f.num_task], f.sp_path, f.save_dir, f.bsz_per_host, f.seq_len,
                f.reuse_len, f.bi_data, f.mask_alpha, f.mask_beta, f.num_predict, f.uncased,
                f.use_eod, f.from_raw_text, f.split, f.task, f.pass_id)


def define_flags():
    """The original's data_utils flags (use_tpu / num_core_per_host: one device, not needed)."""
    from absl import flags as absl_flags
    d = absl_flags
    d.DEFINE_integer("bsz_per_host", 32, "Batch size the records are laid out for.")
    d.DEFINE_integer("seq_len", 512, "Sequence length.")
    d.DEFINE_integer("reuse_len", 256, "Tokens reused as memory (half of seq_len).")
    d.DEFINE_bool("uncased", False, "Lower-case the text.")
    d.DEFINE_bool("bi_data", True, "Forward and backward rows.")
    d.DEFINE_integer("mask_alpha", 6, "How many tokens form a group.")
    d.DEFINE_integer("mask_beta", 1, "How many tokens to mask within each group.")
    d.DEFINE_bool("use_eod", True, "A blank line is an <eod> token.")
    d.DEFINE_bool("from_raw_text", True, "Raw text (else space-separated ids).")
    d.DEFINE_integer("num_predict", 85, "Targets per record.")
    d.DEFINE_string("input_glob", None, "Input text files.")
    d.DEFINE_string("sp_path", None, "Sentencepiece model.")
    d.DEFINE_string("save_dir", None, "Output folder (tfrecords/ is created in it).")
    d.DEFINE_enum("split", "train", ["train", "dev", "test"], "Split name of the records.")
    d.DEFINE_integer("pass_id", 0, "Pass id (another pass draws other B segments and masks).")
    d.DEFINE_integer("num_task", 1, "Number of workers.")
    d.DEFINE_integer("task", 0, "This worker's id.")
    for name in ("input_glob", "sp_path", "save_dir"):
        d.mark_flag_as_required(name)


if __name__ == "__main__":
    from common import cli
    define_flags()
    cli.run_entry_point(lambda: main(None), input_flag="input_glob", user_errors=(DataError,))
