# coding=utf-8
"""Token classification (NER) data: readers, WordPiece alignment, conlleval-style entity metrics.

* Input: CoNLL-style text (`token TAG` per line, the tag in the last column, a blank line between
  sentences, `-DOCSTART-` lines skipped; BIO, BIOES and BMES tags) or CLUENER 2020 JSON lines
  (`{"text": ..., "label": {"TYPE": {"entity text": [[start, end]]}}}`, end inclusive) which become
  character-level BIO. Unlabelled (test) files may give tokens only / no "label".
* Features: each original token is WordPiece-tokenized on its own; its first piece carries the
  token's label (label_mask 1), further pieces, [CLS], [SEP] and padding carry label_mask 0 (out of
  loss and metrics). A sentence longer than max_seq_length - 2 pieces is cut into consecutive
  windows, and the windows' predictions are put back together, so every gold entity is scored.
* Metrics: entities are read from the tag sequences as conlleval does (a chunk starts at B/S, or
  at I/E after O/E/S, or when the type changes; it ends before B/S/O, after E/S, or when the type
  changes); an entity is correct when type, start and end all match. Per type and micro-averaged
  precision, recall and F1 (fractions, conlleval prints them x100).

Bad input raises ValueError naming the file and line (CoNLL) or record (CLUENER).
"""
import collections
import json
import os

from common.atomic_io import write_text
from common.feature_records import memoized_tokenize

TAG_PREFIXES = ("B", "I", "E", "S", "M")


class NerExample(object):
    """tokens (list of str), tags (list of str, "O" when unlabelled), source ("file line N");
    CLUENER records also keep text (the original string) and char_index (token -> its offset)."""

    def __init__(self, guid, tokens, tags, source, text=None, char_index=None):
        self.guid = guid
        self.char_index = char_index
        self.tokens = tokens
        self.tags = tags
        self.source = source
        self.text = text


def split_tag(tag, source=None):
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', ''); M (BMES middle) reads as I. ValueError if bad."""
    if tag == "O":
        return "O", ""
    prefix, sep, kind = tag.partition("-")
    if not sep:
        prefix, sep, kind = tag.partition("_")
    if not sep or prefix not in TAG_PREFIXES or not kind:
        raise ValueError("%s: tag %r is neither O nor B-/I-/E-/S-/M-TYPE"
                         % (source or "tags", tag))
    return ("I" if prefix == "M" else prefix), kind


def _end_of_chunk(prev_tag, tag, prev_type, kind):
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag != "O" and prev_type != kind


def _start_of_chunk(prev_tag, tag, prev_type, kind):
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag != "O" and prev_type != kind


def get_entities(tags):
    """conlleval's chunks of one sentence: list of (type, start, end exclusive)."""
    entities = []
    prev_tag, prev_type, start = "O", "", None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = split_tag(tag)
        if start is not None and _end_of_chunk(prev_tag, prefix, prev_type, kind):
            entities.append((prev_type, start, i))
            start = None
        if _start_of_chunk(prev_tag, prefix, prev_type, kind):
            start = i
        prev_tag, prev_type = prefix, kind
    return entities


def _prf(correct, predicted, gold):
    precision = correct / float(predicted) if predicted else 0.0
    recall = correct / float(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "correct": correct, "predicted": predicted, "gold": gold}


def entity_metrics(gold_sequences, predicted_sequences):
    """{"micro": {...}, "per_type": {TYPE: {...}}}, each {precision, recall, f1, correct,
    predicted, gold}; sequences are lists of tag lists, sentence by sentence."""
    if len(gold_sequences) != len(predicted_sequences):
        raise ValueError("%d gold vs %d predicted sentences"
                         % (len(gold_sequences), len(predicted_sequences)))
    counts = collections.defaultdict(lambda: [0, 0, 0])   # correct, predicted, gold
    for gold_tags, pred_tags in zip(gold_sequences, predicted_sequences):
        if len(gold_tags) != len(pred_tags):
            raise ValueError("sentence of %d tokens has %d predicted tags"
                             % (len(gold_tags), len(pred_tags)))
        gold, pred = set(get_entities(gold_tags)), set(get_entities(pred_tags))
        for kind, _, _ in pred:
            counts[kind][1] += 1
        for kind, _, _ in gold:
            counts[kind][2] += 1
        for kind, _, _ in gold & pred:
            counts[kind][0] += 1
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    return {"micro": _prf(*totals),
            "per_type": {kind: _prf(*counts[kind]) for kind in sorted(counts)}}


def metrics_lines(metrics):
    """conlleval-like report lines (percentages)."""
    lines = []
    for name, m in [("all", metrics["micro"])] + sorted(metrics["per_type"].items()):
        lines.append("%-8s precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  (%d gold, %d predicted)"
                     % (name, 100 * m["precision"], 100 * m["recall"], 100 * m["f1"], m["gold"],
                        m["predicted"]))
    return lines


# ----------------------------------------------------------------------------------------------
# Readers
# ----------------------------------------------------------------------------------------------

def read_conll(path, labelled=True):
    """CoNLL-style file -> NerExamples; `labelled=False` allows token-only lines (tags "O")."""
    name = os.path.basename(path)
    examples, tokens, tags, first = [], [], [], None

    def flush():
        if tokens:
            examples.append(NerExample("%s-%d" % (name, len(examples)), list(tokens), list(tags),
                                       "%s line %d" % (name, first)))
        del tokens[:], tags[:]

    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                flush()
                continue
            if len(fields) == 1 and labelled:
                raise ValueError("%s line %d: expected `token TAG`, got %r"
                                 % (name, number, line.rstrip("\n")))
            tag = fields[-1] if len(fields) > 1 else "O"
            split_tag(tag, "%s line %d" % (name, number))
            if not tokens:
                first = number
            tokens.append(fields[0])
            tags.append(tag)
    flush()
    return examples


def read_cluener(path, labelled=True):
    """CLUENER JSON lines -> character-level BIO NerExamples (text kept for the output)."""
    name = os.path.basename(path)
    examples = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = "%s line %d" % (name, number)
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ValueError("%s: not valid JSON (%s)" % (where, exc))
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError("%s: a record needs a \"text\" string" % where)
            text = record["text"]
            tags = ["O"] * len(text)
            label = record.get("label")
            if label is None and labelled:
                raise ValueError("%s: no \"label\" (a labelled file needs one per record)" % where)
            for kind, mentions in sorted((label or {}).items()):
                if not isinstance(mentions, dict):
                    raise ValueError("%s: label %r must map entity texts to spans" % (where, kind))
                for entity, spans in mentions.items():
                    for span in spans:
                        if (not isinstance(span, list) or len(span) != 2
                                or not all(isinstance(x, int) for x in span)):
                            raise ValueError("%s: span %r of %r is not [start, end]"
                                             % (where, span, entity))
                        start, end = span
                        if text[start:end + 1] != entity or start < 0:
                            raise ValueError("%s: span [%d, %d] of %s is %r, not %r" % (
                                where, start, end, kind, text[start:end + 1], entity))
                        if any(t != "O" for t in tags[start:end + 1]):
                            raise ValueError("%s: span [%d, %d] of %s overlaps another entity"
                                             % (where, start, end, kind))
                        tags[start:end + 1] = ["B-" + kind] + ["I-" + kind] * (end - start)
            if text.strip():
                keep = [i for i, c in enumerate(text) if not c.isspace()]
                examples.append(NerExample(record.get("id", len(examples)),
                                           [text[i] for i in keep], [tags[i] for i in keep],
                                           where, text, char_index=keep))
    return examples


SPLIT_FILES = {"conll": "%s.txt", "cluener": "%s.json"}


def detect_format(data_dir):
    """'cluener' when train.json / dev.json is there, 'conll' when train.txt / dev.txt is."""
    for split in ("train", "dev", "test"):
        for data_format, pattern in sorted(SPLIT_FILES.items()):
            if os.path.isfile(os.path.join(data_dir, pattern % split)):
                return data_format
    raise FileNotFoundError("%s has no train/dev/test .txt (CoNLL) or .json (CLUENER) file"
                            % data_dir)


def read_split(data_dir, split, data_format):
    """Examples of `split` (train, dev, test); FileNotFoundError / ValueError when missing/empty."""
    path = os.path.join(data_dir, SPLIT_FILES[data_format] % split)
    if not os.path.isfile(path):
        raise FileNotFoundError("data file not found: %s (%s format)" % (path, data_format))
    reader = read_cluener if data_format == "cluener" else read_conll
    examples = reader(path, labelled=split != "test")
    if not examples:
        raise ValueError("%s: no sentences (empty file)" % path)
    return examples


def labels_of(examples):
    """The label list of a training set: O first, then the tags sorted by type and prefix."""
    tags = {t for ex in examples for t in ex.tags} - {"O"}
    return ["O"] + sorted(tags, key=lambda t: (split_tag(t)[1], "BIMES".index(t[0]), t))


def check_labels(examples, label_list):
    known = set(label_list)
    for ex in examples:
        for i, tag in enumerate(ex.tags):
            if tag not in known:
                raise ValueError("%s (token %d %r): tag %r is not in the label list %s"
                                 % (ex.source, i + 1, ex.tokens[i], tag, ",".join(label_list)))


# ----------------------------------------------------------------------------------------------
# Features and the way back
# ----------------------------------------------------------------------------------------------

def convert_examples_to_features(examples, label_list, max_seq_length, tokenizer):
    """-> (feature dicts, windows [(example index, first token, token count)]).

    Dicts: input_ids, input_mask, segment_ids, label_ids, label_mask ([max_seq_length] each).
    """
    check_labels(examples, label_list)
    label_map = {label: i for i, label in enumerate(label_list)}
    room = max_seq_length - 2
    tokenize = memoized_tokenize(tokenizer)
    features, windows = [], []
    for ex_index, example in enumerate(examples):
        pieces = []
        for token in example.tokens:
            sub = tokenize(token) or ["[UNK]"]   # one position per original token
            pieces.append(sub[:room])
        start = 0
        while start < len(pieces):
            end, used = start, 0
            while end < len(pieces) and used + len(pieces[end]) <= room:
                used += len(pieces[end])
                end += 1
            tokens, label_ids, label_mask = ["[CLS]"], [0], [0]
            for i in range(start, end):
                tokens.extend(pieces[i])
                label_ids.extend([label_map[example.tags[i]]] + [0] * (len(pieces[i]) - 1))
                label_mask.extend([1] + [0] * (len(pieces[i]) - 1))
            tokens.append("[SEP]")
            label_ids.append(0)
            label_mask.append(0)
            input_ids = tokenizer.convert_tokens_to_ids(tokens)
            pad = max_seq_length - len(input_ids)
            features.append({"input_ids": input_ids + [0] * pad,
                             "input_mask": [1] * len(input_ids) + [0] * pad,
                             "segment_ids": [0] * max_seq_length,
                             "label_ids": label_ids + [0] * pad,
                             "label_mask": label_mask + [0] * pad})
            windows.append((ex_index, start, end - start))
            start = end
    return features, windows


def padding_feature(max_seq_length):
    """A batch-filling feature: no real position (label_mask all 0)."""
    zeros = [0] * max_seq_length
    return {"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros, "label_ids": zeros,
            "label_mask": zeros}


def tags_from_predictions(examples, windows, features, predicted_ids, label_list):
    """Per example, the predicted tag of each original token (the tag at its first piece)."""
    tags = [[None] * len(ex.tokens) for ex in examples]
    for (ex_index, start, count), feature, ids in zip(windows, features, predicted_ids):
        positions = [p for p, m in enumerate(feature["label_mask"]) if m]
        assert len(positions) == count
        for k, p in enumerate(positions):
            tags[ex_index][start + k] = label_list[int(ids[p])]
    missing = [i for i, t in enumerate(tags) if None in t]
    if missing:
        raise RuntimeError("no prediction for %d sentence(s), e.g. %s"
                           % (len(missing), examples[missing[0]].source))
    return tags


def write_predictions(path, examples, predicted_tags, data_format):
    """CoNLL: `token<TAB>predicted tag` lines, a blank line between sentences; CLUENER: JSON lines
    with the predicted entities in CLUENER's `label` layout (spans on the original text)."""
    out = []
    for example, tags in zip(examples, predicted_tags):
        if data_format == "cluener":
            label = collections.OrderedDict()
            index = example.char_index
            for kind, start, end in get_entities(tags):
                s, e = index[start], index[end - 1]
                label.setdefault(kind, collections.OrderedDict()).setdefault(
                    example.text[s:e + 1], []).append([s, e])
            out.append(json.dumps({"id": example.guid, "text": example.text, "label": label},
                                  ensure_ascii=False) + "\n")
        else:
            out.append("".join("%s\t%s\n" % pair for pair in zip(example.tokens, tags)) + "\n")
    write_text(path, "".join(out))
