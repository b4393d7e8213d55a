# coding=utf-8
"""Masked-LM + next-sentence pretraining instances (google-research/bert create_pretraining_data).

Input: plain text, one sentence per line, a blank line between documents.
Output: TFRecords of tf.train.Example with exactly the original features:

  input_ids, input_mask, segment_ids      int64 [max_seq_length]
  masked_lm_positions, masked_lm_ids      int64 [max_predictions_per_seq]
  masked_lm_weights                       float [max_predictions_per_seq]
  next_sentence_labels                    int64 [1]   (1 = B is a random sentence)

The algorithm is the original's, drawn from one seeded `random.Random`:
  * every document is used `dupe_factor` times, each time with fresh segmentation and masking;
  * a chunk of sentences fills `max_seq_length - 3` tokens (a shorter random target with
    probability `short_seq_prob`), is split at a random sentence boundary into A and B, and with
    probability 0.5 (always for a one-sentence chunk) B is replaced by text from another random
    document (the unused sentences are put back);
  * the pair is truncated from a random end of the longer side; [CLS] A [SEP] B [SEP];
  * round(len * masked_lm_prob) positions (at least 1, at most max_predictions_per_seq, never
    [CLS]/[SEP]; with whole-word masking "##" pieces go with their word) are predicted: 80 %
    [MASK], 10 % the original token, 10 % a random vocabulary token.
ALBERT reuses the same code with `sentence_order=True` (google-research/albert's SOP: B is the
text that follows A, and with probability 0.5 the two are swapped, label 1; a one-sentence chunk
still takes B from another document, as the original) and `ngram=3` (`create_ngram_masked_lm_predictions`:
spans of 1..n whole words, n drawn with probability proportional to 1/n). For Chinese,
`JiebaWholeWordTokenizer` marks the characters that continue a jieba word (`WordContinuation`),
so whole-word masking keeps jieba words together, as brightmart/albert_zh does.
"""

import collections
import contextlib
import glob
import time

import tensorflow.compat.v1 as tf

from common import atomic_io
from common.tokenization import convert_to_unicode
from common.tokenization.marks import WordContinuation
from common.tokenization.wordpiece import _is_chinese_char

def continues_word(token):
    """True for a WordContinuation or a WordPiece "##" continuation."""
    return isinstance(token, WordContinuation) or token.startswith("##")


def _is_cjk_token(token):
    return len(token) == 1 and _is_chinese_char(ord(token))


def mark_words(tokens, cut):
    """Marks the CJK characters that continue a word: each run of single-character CJK tokens is
    segmented by `cut(text) -> list of words` (jieba) and every character after a word's first
    becomes a WordContinuation. Other tokens are returned unchanged."""
    out = list(tokens)
    i = 0
    while i < len(out):
        if not _is_cjk_token(out[i]):
            i += 1
            continue
        j = i
        while j < len(out) and _is_cjk_token(out[j]):
            j += 1
        run = "".join(out[i:j])
        words = [w for w in cut(run) if w]
        if "".join(words) != run:  # a segmenter that changed the text: leave the run unmarked
            i = j
            continue
        position = i
        for word in words:
            for offset in range(1, len(word)):
                out[position + offset] = WordContinuation(out[position + offset])
            position += len(word)
        i = j
    return out


class JiebaWholeWordTokenizer(object):
    """Wraps a tokenizer (FullTokenizer): same tokens and ids, with the characters that continue a
    jieba word marked as WordContinuation (jieba's shipped dictionary, HMM for unknown words, as
    brightmart/albert_zh's jieba.lcut)."""

    def __init__(self, tokenizer):
        import logging

        import jieba  # imported here: only whole-word masking for Chinese needs it

        jieba.setLogLevel(logging.WARNING)
        self.tokenizer = tokenizer
        self.vocab = tokenizer.vocab
        self._cut = jieba.lcut

    def tokenize(self, text):
        return mark_words(self.tokenizer.tokenize(text), self._cut)

    def convert_tokens_to_ids(self, tokens):
        return self.tokenizer.convert_tokens_to_ids(tokens)

    def convert_ids_to_tokens(self, ids):
        return self.tokenizer.convert_ids_to_tokens(ids)


MaskedLmInstance = collections.namedtuple("MaskedLmInstance", ["index", "label"])

FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                 "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")


class TrainingInstance(object):
    """A single training instance (sentence pair)."""

    def __init__(self, tokens, segment_ids, masked_lm_positions, masked_lm_labels,
                 is_random_next):
        self.tokens = tokens
        self.segment_ids = segment_ids
        self.is_random_next = is_random_next
        self.masked_lm_positions = masked_lm_positions
        self.masked_lm_labels = masked_lm_labels

    def __str__(self):
        return ("tokens: %s\nsegment_ids: %s\nis_random_next: %s\nmasked_lm_positions: %s\n"
                "masked_lm_labels: %s\n" % (" ".join(self.tokens),
                                            " ".join(str(x) for x in self.segment_ids),
                                            self.is_random_next,
                                            " ".join(str(x) for x in self.masked_lm_positions),
                                            " ".join(self.masked_lm_labels)))

    __repr__ = __str__


def expand_input_patterns(input_file):
    """Comma-separated glob patterns -> sorted unique file list; error names what matched nothing."""
    files = []
    for pattern in [p for p in input_file.split(",") if p.strip()]:
        matched = sorted(glob.glob(pattern.strip()))
        if not matched:
            raise FileNotFoundError("input_file: nothing matches %s" % pattern.strip())
        files.extend(m for m in matched if m not in files)
    if not files:
        raise FileNotFoundError("input_file: no files given")
    return files


def read_documents(input_files, tokenizer, log_every=5000):
    """Reads text files into documents: a list of documents, each a list of token lists.

    One sentence per line; blank lines separate documents; empty documents are dropped.
    """
    all_documents = [[]]
    lines = 0
    start = time.time()
    for input_file in input_files:
        with open(input_file, "rb") as reader:
            for raw in reader:
                line = convert_to_unicode(raw).strip()
                lines += 1
                if log_every and lines % log_every == 0:
                    tf.logging.info("read %d lines, %d documents (%.0fs)", lines,
                                    len(all_documents), time.time() - start)
                if not line:
                    all_documents.append([])
                    continue
                tokens = tokenizer.tokenize(line)
                if tokens:
                    all_documents[-1].append(tokens)
    return [doc for doc in all_documents if doc]


def create_training_instances(input_files, tokenizer, max_seq_length, dupe_factor,
                              short_seq_prob, masked_lm_prob, max_predictions_per_seq, rng,
                              do_whole_word_mask=False, documents=None, log_every=2000,
                              sentence_order=False, ngram=1, favor_shorter_ngram=True):
    """Creates `TrainingInstance`s from raw text files (or from ready tokenized `documents`).

    sentence_order: ALBERT's SOP pairs instead of BERT's random next sentence.
    ngram > 1: ALBERT's n-gram masking (see create_ngram_masked_lm_predictions).
    """
    if documents is None:
        documents = read_documents(input_files, tokenizer)
    all_documents = [doc for doc in documents if doc]
    if not all_documents:
        raise ValueError("input_file: no text found in %s" % (", ".join(input_files or [])))
    rng.shuffle(all_documents)

    vocab_words = list(tokenizer.vocab.keys())
    instances = []
    start = time.time()
    total = dupe_factor * len(all_documents)
    for dupe in range(dupe_factor):
        for document_index in range(len(all_documents)):
            instances.extend(create_instances_from_document(
                all_documents, document_index, max_seq_length, short_seq_prob, masked_lm_prob,
                max_predictions_per_seq, vocab_words, rng, do_whole_word_mask,
                sentence_order=sentence_order, ngram=ngram,
                favor_shorter_ngram=favor_shorter_ngram))
            done = dupe * len(all_documents) + document_index + 1
            if log_every and done % log_every == 0:
                tf.logging.info("documents %d/%d -> %d instances (%.0fs)", done, total,
                                len(instances), time.time() - start)
    rng.shuffle(instances)
    return instances


def create_instances_from_document(all_documents, document_index, max_seq_length,
                                   short_seq_prob, masked_lm_prob, max_predictions_per_seq,
                                   vocab_words, rng, do_whole_word_mask=False,
                                   sentence_order=False, ngram=1, favor_shorter_ngram=True):
    """Creates the instances of one document (see the module docstring)."""
    document = all_documents[document_index]
    max_num_tokens = max_seq_length - 3  # [CLS], [SEP], [SEP]

    # Mostly fill the whole sequence; sometimes (short_seq_prob) use a shorter one so the model
    # also sees short sequences, as in fine-tuning.
    target_seq_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)

    instances = []
    current_chunk = []
    current_length = 0
    i = 0
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment)
        if i == len(document) - 1 or current_length >= target_seq_length:
            if current_chunk:
                # How many sentences of the chunk go into A.
                a_end = 1
                if len(current_chunk) >= 2:
                    a_end = rng.randint(1, len(current_chunk) - 1)
                tokens_a = []
                for j in range(a_end):
                    tokens_a.extend(current_chunk[j])

                tokens_b = []
                is_random_next = False
                if len(current_chunk) == 1 or (not sentence_order and rng.random() < 0.5):
                    is_random_next = True
                    target_b_length = target_seq_length - len(tokens_a)
                    # Ten tries to pick another document (a one-document corpus keeps its own).
                    random_document_index = 0
                    for _ in range(10):
                        random_document_index = rng.randint(0, len(all_documents) - 1)
                        if random_document_index != document_index:
                            break
                    random_document = all_documents[random_document_index]
                    random_start = rng.randint(0, len(random_document) - 1)
                    for j in range(random_start, len(random_document)):
                        tokens_b.extend(random_document[j])
                        if len(tokens_b) >= target_b_length:
                            break
                    # The unused sentences of this chunk are not wasted.
                    num_unused_segments = len(current_chunk) - a_end
                    i -= num_unused_segments
                elif sentence_order and rng.random() < 0.5:
                    # SOP negative: the same two segments in swapped order.
                    is_random_next = True
                    for j in range(a_end, len(current_chunk)):
                        tokens_b.extend(current_chunk[j])
                    tokens_a, tokens_b = tokens_b, tokens_a
                else:
                    for j in range(a_end, len(current_chunk)):
                        tokens_b.extend(current_chunk[j])
                truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
                if not tokens_a or not tokens_b:
                    raise AssertionError("empty segment after truncation")

                tokens = ["[CLS]"] + tokens_a + ["[SEP]"] + tokens_b + ["[SEP]"]
                segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
                if ngram > 1:
                    tokens, masked_lm_positions, masked_lm_labels = \
                        create_ngram_masked_lm_predictions(
                            tokens, masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
                            do_whole_word_mask, ngram, favor_shorter_ngram)
                else:
                    tokens, masked_lm_positions, masked_lm_labels = create_masked_lm_predictions(
                        tokens, masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
                        do_whole_word_mask)
                instances.append(TrainingInstance(
                    tokens=tokens, segment_ids=segment_ids, is_random_next=is_random_next,
                    masked_lm_positions=masked_lm_positions, masked_lm_labels=masked_lm_labels))
            current_chunk = []
            current_length = 0
        i += 1
    return instances


def create_masked_lm_predictions(tokens, masked_lm_prob, max_predictions_per_seq, vocab_words,
                                 rng, do_whole_word_mask=False):
    """Chooses and replaces the predicted positions (80 % [MASK] / 10 % keep / 10 % random).

    Returns:
      (output_tokens, masked_lm_positions sorted ascending, masked_lm_labels = original tokens).
    """
    cand_indexes = []
    for (i, token) in enumerate(tokens):
        if token == "[CLS]" or token == "[SEP]":
            continue
        if do_whole_word_mask and cand_indexes and token.startswith("##"):
            cand_indexes[-1].append(i)
        else:
            cand_indexes.append([i])
    rng.shuffle(cand_indexes)

    output_tokens = list(tokens)
    num_to_predict = min(max_predictions_per_seq,
                         max(1, int(round(len(tokens) * masked_lm_prob))))
    masked_lms = []
    covered_indexes = set()
    for index_set in cand_indexes:
        if len(masked_lms) >= num_to_predict:
            break
        # A whole word that would exceed the budget is skipped.
        if len(masked_lms) + len(index_set) > num_to_predict:
            continue
        if any(index in covered_indexes for index in index_set):
            continue
        for index in index_set:
            covered_indexes.add(index)
            if rng.random() < 0.8:
                masked_token = "[MASK]"
            elif rng.random() < 0.5:
                masked_token = tokens[index]
            else:
                masked_token = vocab_words[rng.randint(0, len(vocab_words) - 1)]
            output_tokens[index] = masked_token
            masked_lms.append(MaskedLmInstance(index=index, label=tokens[index]))
    masked_lms.sort(key=lambda x: x.index)
    return (output_tokens, [p.index for p in masked_lms], [p.label for p in masked_lms])


def _whole_word_candidates(tokens, do_whole_word_mask):
    """Candidate index lists: one per token, or per whole word (a word and its continuations;
    a continuation only joins the token right before it, never across [CLS]/[SEP])."""
    cand_indexes = []
    for (i, token) in enumerate(tokens):
        if token == "[CLS]" or token == "[SEP]":
            continue
        if (do_whole_word_mask and cand_indexes and cand_indexes[-1][-1] == i - 1
                and continues_word(token)):
            cand_indexes[-1].append(i)
        else:
            cand_indexes.append([i])
    return cand_indexes


def create_ngram_masked_lm_predictions(tokens, masked_lm_prob, max_predictions_per_seq,
                                       vocab_words, rng, do_whole_word_mask=True, ngram=3,
                                       favor_shorter_ngram=True):
    """ALBERT's n-gram masking (google-research/albert create_masked_lm_predictions).

    Spans of n consecutive candidates (whole words when do_whole_word_mask) are masked, n in
    1..ngram drawn with probability proportional to 1/n (n, reversed, when not
    favor_shorter_ngram); a span too long for the remaining budget shrinks to shorter n, one
    that still does not fit or touches a covered position is skipped. Replacement 80 % [MASK],
    10 % original, 10 % random token. All draws come from `rng` (the original draws n from numpy's
    global generator). Returns (output_tokens, positions ascending, labels).
    """
    cand_indexes = _whole_word_candidates(tokens, do_whole_word_mask)
    output_tokens = list(tokens)
    num_to_predict = min(max_predictions_per_seq,
                         max(1, int(round(len(tokens) * masked_lm_prob))))
    ngrams = list(range(1, ngram + 1))
    pvals = [1.0 / n for n in ngrams]
    if not favor_shorter_ngram:
        pvals = pvals[::-1]
    # For each start candidate: its 1-gram, 2-gram, ... (shorter at the end of the sequence).
    ngram_indexes = [[cand_indexes[idx:idx + n] for n in ngrams]
                     for idx in range(len(cand_indexes))]
    rng.shuffle(ngram_indexes)

    masked_lms = []
    covered_indexes = set()
    for cand_index_set in ngram_indexes:
        if len(masked_lms) >= num_to_predict:
            break
        if not cand_index_set:
            continue
        n = _weighted_choice(ngrams, pvals, rng)
        index_set = sum(cand_index_set[n - 1], [])
        n -= 1
        while len(masked_lms) + len(index_set) > num_to_predict and n > 0:
            index_set = sum(cand_index_set[n - 1], [])
            n -= 1
        if len(masked_lms) + len(index_set) > num_to_predict:
            continue
        if any(index in covered_indexes for index in index_set):
            continue
        for index in index_set:
            covered_indexes.add(index)
            if rng.random() < 0.8:
                masked_token = "[MASK]"
            elif rng.random() < 0.5:
                masked_token = tokens[index]
            else:
                masked_token = vocab_words[rng.randint(0, len(vocab_words) - 1)]
            output_tokens[index] = masked_token
            masked_lms.append(MaskedLmInstance(index=index, label=tokens[index]))
    masked_lms.sort(key=lambda x: x.index)
    return (output_tokens, [p.index for p in masked_lms], [p.label for p in masked_lms])


def _weighted_choice(values, weights, rng):
    threshold = rng.random() * sum(weights)
    cumulative = 0.0
    for value, weight in zip(values, weights):
        cumulative += weight
        if threshold < cumulative:
            return value
    return values[-1]


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
    """Truncates the longer of A/B, one token at a time, from a random end, to max_num_tokens."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        trunc_tokens = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if not trunc_tokens:
            raise AssertionError("cannot truncate an empty segment")
        if rng.random() < 0.5:
            del trunc_tokens[0]
        else:
            trunc_tokens.pop()


def _int64_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def _float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def instance_to_example(instance, tokenizer, max_seq_length, max_predictions_per_seq):
    """TrainingInstance -> tf.train.Example, zero-padded to the fixed feature lengths."""
    input_ids = tokenizer.convert_tokens_to_ids(instance.tokens)
    input_mask = [1] * len(input_ids)
    segment_ids = list(instance.segment_ids)
    if len(input_ids) > max_seq_length:
        raise ValueError("instance of %d tokens > max_seq_length %d"
                         % (len(input_ids), max_seq_length))
    while len(input_ids) < max_seq_length:
        input_ids.append(0)
        input_mask.append(0)
        segment_ids.append(0)

    masked_lm_positions = list(instance.masked_lm_positions)
    masked_lm_ids = tokenizer.convert_tokens_to_ids(instance.masked_lm_labels)
    masked_lm_weights = [1.0] * len(masked_lm_ids)
    while len(masked_lm_positions) < max_predictions_per_seq:
        masked_lm_positions.append(0)
        masked_lm_ids.append(0)
        masked_lm_weights.append(0.0)

    features = collections.OrderedDict()
    features["input_ids"] = _int64_feature(input_ids)
    features["input_mask"] = _int64_feature(input_mask)
    features["segment_ids"] = _int64_feature(segment_ids)
    features["masked_lm_positions"] = _int64_feature(masked_lm_positions)
    features["masked_lm_ids"] = _int64_feature(masked_lm_ids)
    features["masked_lm_weights"] = _float_feature(masked_lm_weights)
    features["next_sentence_labels"] = _int64_feature([1 if instance.is_random_next else 0])
    return tf.train.Example(features=tf.train.Features(feature=features))


def write_instance_to_example_files(instances, tokenizer, max_seq_length,
                                    max_predictions_per_seq, output_files, log_examples=20):
    """Writes instances round-robin over `output_files` (all appear together, or none).

    Returns the number of instances written.
    """
    with contextlib.ExitStack() as files:
        writers = [files.enter_context(tf.io.TFRecordWriter(files.enter_context(
            atomic_io.replacing(f)))) for f in output_files]
        for (inst_index, instance) in enumerate(instances):
            example = instance_to_example(instance, tokenizer, max_seq_length,
                                          max_predictions_per_seq)
            writers[inst_index % len(writers)].write(example.SerializeToString())
            if inst_index < log_examples:
                tf.logging.info("*** Example ***\n%s", instance)
    tf.logging.info("Wrote %d total instances to %s", len(instances), ", ".join(output_files))
    return len(instances)


def name_to_features(max_seq_length, max_predictions_per_seq):
    """The parsing spec of the pretraining TFRecords (dtypes as written: int64 / float32)."""
    return {
        "input_ids": tf.FixedLenFeature([max_seq_length], tf.int64),
        "input_mask": tf.FixedLenFeature([max_seq_length], tf.int64),
        "segment_ids": tf.FixedLenFeature([max_seq_length], tf.int64),
        "masked_lm_positions": tf.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_ids": tf.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_weights": tf.FixedLenFeature([max_predictions_per_seq], tf.float32),
        "next_sentence_labels": tf.FixedLenFeature([1], tf.int64),
    }


def read_examples_numpy(path, limit=None):
    """Reads a pretraining TFRecord file into a list of {feature name: list of values} dicts.

    Raises tf.errors.DataLossError on a corrupt file.
    """
    out = []
    for record in tf.io.tf_record_iterator(path):
        example = tf.train.Example.FromString(record)
        row = {}
        for name, feature in example.features.feature.items():
            kind = feature.WhichOneof("kind")
            row[name] = list(getattr(feature, kind).value)
        out.append(row)
        if limit and len(out) >= limit:
            break
    return out


def check_tfrecords(input_files, flag_name, max_seq_length, max_predictions_per_seq,
                    vocab_size=None):
    """Reads the first record of each file (at most 64): one clear ValueError for a corrupt file,
    a missing feature, other lengths than the flags, or token ids outside the model's vocabulary."""
    expected = {"input_ids": max_seq_length, "input_mask": max_seq_length,
                "segment_ids": max_seq_length, "masked_lm_positions": max_predictions_per_seq,
                "masked_lm_ids": max_predictions_per_seq,
                "masked_lm_weights": max_predictions_per_seq, "next_sentence_labels": 1}
    for path in input_files[:64]:
        try:
            rows = read_examples_numpy(path, limit=1)
        except (tf.errors.OpError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError("--%s: %s is not a valid TFRecord file (%s)" % (flag_name, path, first))
        if not rows:
            raise ValueError("--%s: %s holds no records" % (flag_name, path))
        for name, length in expected.items():
            if name not in rows[0]:
                raise ValueError("--%s: %s lacks feature %s (not a pretraining file?)"
                                 % (flag_name, path, name))
            if len(rows[0][name]) != length:
                raise ValueError("--%s: %s has %s of length %d, but the flags say %d "
                                 "(--max_seq_length / --max_predictions_per_seq)"
                                 % (flag_name, path, name, len(rows[0][name]), length))
        if vocab_size is not None:
            largest = max(max(rows[0]["input_ids"]), max(rows[0]["masked_lm_ids"]))
            if largest >= vocab_size:
                raise ValueError("--%s: %s has token id %d, but the model config's vocab_size is "
                                 "%d (vocabulary and config do not match)"
                                 % (flag_name, path, largest, vocab_size))


def input_fn_builder(input_files, max_seq_length, max_predictions_per_seq, is_training,
                     batch_size, rank_id=0, rank_size=1, num_cpu_threads=2, seed=None):
    """input_fn over pretraining TFRecords; training shards by rank, interleaves files, shuffles
    and repeats; eval reads every example once. Batches drop the remainder (static shapes)."""
    spec = name_to_features(max_seq_length, max_predictions_per_seq)

    def decode_record(record):
        example = tf.parse_single_example(record, spec)
        return {name: (tf.cast(t, tf.int32) if t.dtype == tf.int64 else t)
                for name, t in example.items()}

    def input_fn(params=None):
        del params
        if is_training:
            # Each rank reads its own files (or, with fewer files than ranks, its own records).
            shard_files = rank_size > 1 and len(input_files) >= rank_size
            d = tf.data.Dataset.from_tensor_slices(tf.constant(input_files))
            if shard_files:
                d = d.shard(rank_size, rank_id)
            d = d.repeat()
            d = d.shuffle(buffer_size=len(input_files), seed=seed)
            cycle_length = min(num_cpu_threads, len(input_files))
            d = d.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length)
            if rank_size > 1 and not shard_files:
                d = d.shard(rank_size, rank_id)
            d = d.shuffle(buffer_size=100, seed=seed)
        else:
            d = tf.data.TFRecordDataset(input_files)
        d = d.map(decode_record, num_parallel_calls=num_cpu_threads)
        d = d.batch(batch_size, drop_remainder=True)
        return d.prefetch(2)

    return input_fn
