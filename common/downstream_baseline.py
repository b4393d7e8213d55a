# coding=utf-8
"""Non-neural references for the NER and reading-comprehension demos.

    python -m common.downstream_baseline ner --data_dir=<NER dir>          [--json]
    python -m common.downstream_baseline reading --data_dir=<reading dir>  [--json]

ner: on the dev set, (a) every token gets its most frequent training tag (per-character
majority; unseen tokens O) and (b) a dictionary tagger: the training set's entity strings (each
with its most frequent type), matched longest-first left to right; both scored with the
conlleval-style entity F1 of common/ner_data.py.
reading (the derived People's Daily questions): the question word gives the entity type (谁 PER,
哪里 LOC, 哪个机构 ORG); the answer is the first string of that type in the context, from a
dictionary of the training answers (longest at the earliest position). EM / F1 by the CMRC 2018
definitions (common/squad_data.py).
"""
import argparse
import collections
import json
import os
import sys

from common import ner_data, squad_data


def _majority_tags(train):
    counts = collections.defaultdict(collections.Counter)
    for ex in train:
        for token, tag in zip(ex.tokens, ex.tags):
            counts[token][tag] += 1
    return {token: c.most_common(1)[0][0] for token, c in counts.items()}


def _entity_dictionary(pairs):
    """{string: most frequent type} of (string, type) pairs."""
    counts = collections.defaultdict(collections.Counter)
    for text, kind in pairs:
        counts[text][kind] += 1
    return {text: c.most_common(1)[0][0] for text, c in counts.items()}


def _longest_matches(tokens, dictionary, max_len):
    """Left-to-right longest dictionary matches: [(type, start, end exclusive)]."""
    found, i = [], 0
    while i < len(tokens):
        for n in range(min(max_len, len(tokens) - i), 0, -1):
            kind = dictionary.get("".join(tokens[i:i + n]))
            if kind:
                found.append((kind, i, i + n))
                i += n
                break
        else:
            i += 1
    return found


def ner_baselines(data_dir):
    data_format = ner_data.detect_format(data_dir)
    train = ner_data.read_split(data_dir, "train", data_format)
    dev = ner_data.read_split(data_dir, "dev", data_format)
    gold = [ex.tags for ex in dev]
    majority = _majority_tags(train)
    by_char = [[majority.get(t, "O") for t in ex.tokens] for ex in dev]
    dictionary = _entity_dictionary(("".join(ex.tokens[s:e]), kind) for ex in train
                                    for kind, s, e in ner_data.get_entities(ex.tags))
    max_len = max(len(k) for k in dictionary) if dictionary else 1
    by_dict = []
    for ex in dev:
        tags = ["O"] * len(ex.tokens)
        for kind, s, e in _longest_matches(ex.tokens, dictionary, max_len):
            tags[s:e] = ["B-" + kind] + ["I-" + kind] * (e - s - 1)
        by_dict.append(tags)
    return {"majority_tag_f1": ner_data.entity_metrics(gold, by_char)["micro"]["f1"],
            "dictionary_f1": ner_data.entity_metrics(gold, by_dict)["micro"]["f1"],
            "dev_sentences": len(dev)}


QUESTION_TYPES = collections.OrderedDict([(u"哪个机构", "ORG"), (u"谁", "PER"), (u"哪里", "LOC")])


def question_type(question):
    for word, kind in QUESTION_TYPES.items():
        if word in question:
            return kind
    return None


def reading_baseline(data_dir):
    train = squad_data.read_squad_examples(os.path.join(data_dir, "train.json"), True)
    dev = squad_data.read_squad_examples(os.path.join(data_dir, "dev.json"), False)
    dictionary = _entity_dictionary((ex.orig_answer_text, question_type(ex.question_text))
                                    for ex in train if question_type(ex.question_text))
    max_len = max(len(k) for k in dictionary) if dictionary else 1
    predictions = {}
    for ex in dev:
        kind = question_type(ex.question_text)
        chars = list(ex.context)
        typed = {k: v for k, v in dictionary.items() if v == kind}
        matches = _longest_matches(chars, typed, max_len)
        predictions[ex.qas_id] = ex.context[matches[0][1]:matches[0][2]] if matches else ""
    scores = squad_data.evaluate(dev, predictions, "cmrc2018")
    return {"first_entity_em": scores["exact_match"], "first_entity_f1": scores["f1"],
            "dev_questions": scores["total"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=("ner", "reading"))
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    try:
        result = (ner_baselines if args.task == "ner" else reading_baseline)(args.data_dir)
    except (ValueError, OSError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print("  ".join("%s %.4f" % (k, v) if isinstance(v, float) else "%s %d" % (k, v)
                        for k, v in sorted(result.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
