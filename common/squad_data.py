# coding=utf-8
"""Extractive reading comprehension in the SQuAD v1.1 JSON format (CMRC 2018 uses the same), as
google-research/bert's run_squad.py does it, plus the official evaluation definitions.

* Reading: `{"data": [{"paragraphs": [{"context", "qas": [{"id", "question", "answers":
  [{"text", "answer_start"}]}]}]}]}`. The context is split into doc tokens at whitespace, and
  every CJK character is a token of its own (Chinese has no spaces); each token keeps its
  character span, so answers map back to the original characters exactly. An answer whose text is
  not at its answer_start (or, without answer_start, nowhere in the context) is an error naming
  the file and the question id.
* Features: [CLS] query [SEP] doc window [SEP]; the query cut to max_query_length pieces, the
  document in windows of max_seq_length - len(query) - 3 pieces every doc_stride pieces; each
  piece knows whether this window is its "max context" window; training windows that do not hold
  the answer point at [CLS] (0, 0), as the original does for v1.1.
* Decoding: the n_best_size best starts and ends of every window of a question, spans that are
  inside the document, in their max-context window, in order and at most max_answer_length
  pieces; the best sum of start and end logits wins, its pieces are aligned back onto the
  original text (get_final_text: the de-tokenised prediction found in the BasicTokenizer form of
  the original span, mapped through the non-space characters).
* Metrics (fractions; the official scripts print them x100), max over the gold answers:
  squad_v1 - SQuAD v1.1's evaluate-v1.1.py: lower-case, drop punctuation and a/an/the, collapse
  whitespace; EM = equal strings, F1 over the bag of whitespace tokens.
  cmrc2018 - CMRC 2018's evaluation: EM on the lower-cased text without its special characters
  (the script's list of Chinese and ASCII punctuation); F1 on
  "mixed segmentation" (every CJK character a segment, other runs split into words - the
  original uses nltk.word_tokenize there, here a regex of words and symbols) through the
  longest common contiguous run of segments.
"""
import collections
import json
import math
import os
import re
import string

from common.atomic_io import write_json
from common.feature_records import memoized_tokenize
from common.tokenization import BasicTokenizer
from common.tokenization.wordpiece import _is_chinese_char, _is_whitespace


class SquadExample(object):
    """One question: doc_tokens with their char spans in `context`; answer token positions
    (training) and every gold answer text (evaluation)."""

    def __init__(self, qas_id, question_text, context, doc_tokens, token_spans, answers,
                 start_position=None, end_position=None, source=None):
        self.qas_id = qas_id
        self.question_text = question_text
        self.context = context
        self.doc_tokens = doc_tokens
        self.token_spans = token_spans
        self.answers = answers
        self.orig_answer_text = answers[0] if answers else None
        self.start_position = start_position
        self.end_position = end_position
        self.source = source


def split_context(text):
    """Doc tokens of `text` and their (start, end exclusive) character spans."""
    tokens, spans, start = [], [], None
    for i, char in enumerate(text + " "):
        cp = ord(char)
        if _is_whitespace(char) or _is_chinese_char(cp):
            if start is not None:
                tokens.append(text[start:i])
                spans.append((start, i))
                start = None
            if i < len(text) and _is_chinese_char(cp):
                tokens.append(char)
                spans.append((i, i + 1))
        elif start is None:
            start = i
    return tokens, spans


def _token_at(spans, char_index):
    for i, (start, end) in enumerate(spans):
        if start <= char_index < end:
            return i
    return None


def read_squad_examples(path, is_training):
    """SQuAD-format file -> SquadExamples (ValueError with file and question id when bad)."""
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.strip():
        raise ValueError("%s: empty file" % name)
    try:
        data = json.loads(text)["data"]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError("%s: not SQuAD-format JSON ({\"data\": [...]}): %s" % (name, exc))
    examples = []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article.get("paragraphs", []) if isinstance(article, dict)
                                      else []):
            where = "%s data[%d].paragraphs[%d]" % (name, a, p)
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str):
                raise ValueError("%s: no \"context\" string" % where)
            doc_tokens, spans = split_context(context)
            for q, qa in enumerate(paragraph.get("qas", [])):
                qid = qa.get("id", "%d.%d.%d" % (a, p, q)) if isinstance(qa, dict) else None
                record = "%s question id %s" % (name, qid)
                question = qa.get("question") if isinstance(qa, dict) else None
                if not isinstance(question, str) or not question.strip():
                    raise ValueError("%s (%s.qas[%d]): no question text" % (record, where, q))
                answers, positions = [], []
                for answer in qa.get("answers") or []:
                    answer_text = answer.get("text") if isinstance(answer, dict) else None
                    if not isinstance(answer_text, str) or not answer_text.strip():
                        raise ValueError("%s: an answer has no text" % record)
                    start = answer.get("answer_start")
                    if start is None:
                        start = context.find(answer_text)
                        if start < 0:
                            raise ValueError("%s: answer %r does not occur in its context"
                                             % (record, answer_text))
                    elif context[start:start + len(answer_text)] != answer_text:
                        raise ValueError("%s: answer %r is not at answer_start %s of its context "
                                         "(%r is there)" % (record, answer_text, start,
                                                            context[start:start + len(answer_text)]))
                    answers.append(answer_text)
                    positions.append(start)
                if is_training and not answers:
                    raise ValueError("%s: no answers (a training question needs one)" % record)
                start_position = end_position = None
                if is_training:
                    offset = positions[0] + len(answers[0]) - len(answers[0].lstrip())
                    last = positions[0] + len(answers[0].rstrip()) - 1
                    start_position, end_position = _token_at(spans, offset), _token_at(spans, last)
                examples.append(SquadExample(qid, question, context, doc_tokens, spans, answers,
                                             start_position, end_position, record))
    if not examples:
        raise ValueError("%s: no questions" % name)
    return examples


# ----------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------

class SquadFeature(object):
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def _improve_answer_span(doc_tokens, input_start, input_end, tokenizer, orig_answer_text):
    """The piece span that matches the tokenized answer exactly, if one lies inside the span."""
    tok_answer_text = " ".join(tokenizer.tokenize(orig_answer_text))
    for new_start in range(input_start, input_end + 1):
        for new_end in range(input_end, new_start - 1, -1):
            if " ".join(doc_tokens[new_start:(new_end + 1)]) == tok_answer_text:
                return new_start, new_end
    return input_start, input_end


def _check_is_max_context(doc_spans, cur_span_index, position):
    """Whether window `cur_span_index` gives piece `position` the most context on its shorter side
    (ties: the longer window), the original's score min(left, right) + 0.01 * length."""
    best_score, best_span_index = None, None
    for span_index, (start, length) in enumerate(doc_spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best_span_index = score, span_index
    return cur_span_index == best_span_index


def convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride,
                                 max_query_length, is_training):
    """SquadExamples -> SquadFeatures (unique_id from 1000000000, as the original)."""
    features = []
    unique_id = 1000000000
    tokenize = memoized_tokenize(tokenizer)
    for example_index, example in enumerate(examples):
        query_tokens = tokenizer.tokenize(example.question_text)[:max_query_length]
        tok_to_orig_index, orig_to_tok_index, all_doc_tokens = [], [], []
        for i, token in enumerate(example.doc_tokens):
            orig_to_tok_index.append(len(all_doc_tokens))
            for sub_token in tokenize(token):
                tok_to_orig_index.append(i)
                all_doc_tokens.append(sub_token)
        tok_start = tok_end = None
        if is_training:
            tok_start = orig_to_tok_index[example.start_position]
            if example.end_position < len(example.doc_tokens) - 1:
                tok_end = orig_to_tok_index[example.end_position + 1] - 1
            else:
                tok_end = len(all_doc_tokens) - 1
            tok_start, tok_end = _improve_answer_span(all_doc_tokens, tok_start, tok_end,
                                                      tokenizer, example.orig_answer_text)
        max_doc = max_seq_length - len(query_tokens) - 3
        if max_doc < 1:
            raise ValueError("--max_seq_length=%d leaves no room for the document after a "
                             "question of %d pieces" % (max_seq_length, len(query_tokens)))
        doc_spans, start_offset = [], 0
        while start_offset < len(all_doc_tokens):
            length = min(len(all_doc_tokens) - start_offset, max_doc)
            doc_spans.append((start_offset, length))
            if start_offset + length == len(all_doc_tokens):
                break
            start_offset += min(length, doc_stride)
        for span_index, (doc_start, doc_length) in enumerate(doc_spans):
            tokens = ["[CLS]"] + query_tokens + ["[SEP]"]
            segment_ids = [0] * len(tokens)
            token_to_orig_map, token_is_max_context = {}, {}
            for i in range(doc_length):
                split_index = doc_start + i
                token_to_orig_map[len(tokens)] = tok_to_orig_index[split_index]
                token_is_max_context[len(tokens)] = _check_is_max_context(doc_spans, span_index,
                                                                          split_index)
                tokens.append(all_doc_tokens[split_index])
                segment_ids.append(1)
            tokens.append("[SEP]")
            segment_ids.append(1)
            input_ids = tokenizer.convert_tokens_to_ids(tokens)
            pad = max_seq_length - len(input_ids)
            start_position = end_position = 0
            if is_training:
                doc_end = doc_start + doc_length - 1
                if doc_start <= tok_start and tok_end <= doc_end:
                    doc_offset = len(query_tokens) + 2
                    start_position = tok_start - doc_start + doc_offset
                    end_position = tok_end - doc_start + doc_offset
            features.append(SquadFeature(
                unique_id=unique_id, example_index=example_index, doc_span_index=span_index,
                tokens=tokens, token_to_orig_map=token_to_orig_map,
                token_is_max_context=token_is_max_context,
                input_ids=input_ids + [0] * pad, input_mask=[1] * len(input_ids) + [0] * pad,
                segment_ids=segment_ids + [0] * pad, start_position=start_position,
                end_position=end_position))
            unique_id += 1
    return features


def feature_dict(feature, is_training):
    """The TFRecord fields of a feature."""
    item = collections.OrderedDict([("unique_ids", feature.unique_id),
                                    ("input_ids", feature.input_ids),
                                    ("input_mask", feature.input_mask),
                                    ("segment_ids", feature.segment_ids)])
    if is_training:
        item["start_positions"] = feature.start_position
        item["end_positions"] = feature.end_position
    return item


# ----------------------------------------------------------------------------------------------
# Decoding
# ----------------------------------------------------------------------------------------------

def _strip_spaces(text):
    chars, ns_to_s_map = [], {}
    for i, c in enumerate(text):
        if _is_whitespace(c):
            continue
        ns_to_s_map[len(chars)] = i
        chars.append(c)
    return "".join(chars), ns_to_s_map


def get_final_text(pred_text, orig_text, do_lower_case):
    """The part of `orig_text` that the de-tokenised prediction `pred_text` covers (orig_text
    itself when the two cannot be aligned, as the original)."""
    tok_text = " ".join(BasicTokenizer(do_lower_case=do_lower_case).tokenize(orig_text))
    start_position = tok_text.find(pred_text)
    if start_position == -1:
        return orig_text
    end_position = start_position + len(pred_text) - 1
    orig_ns_text, orig_ns_to_s_map = _strip_spaces(orig_text)
    tok_ns_text, tok_ns_to_s_map = _strip_spaces(tok_text)
    if len(orig_ns_text) != len(tok_ns_text):
        return orig_text
    tok_s_to_ns_map = {v: k for k, v in tok_ns_to_s_map.items()}
    if start_position not in tok_s_to_ns_map or end_position not in tok_s_to_ns_map:
        return orig_text
    orig_start = orig_ns_to_s_map.get(tok_s_to_ns_map[start_position])
    orig_end = orig_ns_to_s_map.get(tok_s_to_ns_map[end_position])
    if orig_start is None or orig_end is None:
        return orig_text
    return orig_text[orig_start:orig_end + 1]


def _best_indexes(logits, n_best_size):
    return sorted(range(len(logits)), key=lambda i: -logits[i])[:n_best_size]


def _softmax(scores):
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def decode_predictions(examples, features, results, n_best_size, max_answer_length,
                       do_lower_case):
    """-> (predictions {qas_id: text}, nbest {qas_id: [{text, probability, start_logit,
    end_logit}]}); results: {unique_id: (start_logits, end_logits)}."""
    by_example = collections.defaultdict(list)
    for feature in features:
        by_example[feature.example_index].append(feature)
    predictions, all_nbest = collections.OrderedDict(), collections.OrderedDict()
    for example_index, example in enumerate(examples):
        prelim = []
        for feature in by_example[example_index]:
            start_logits, end_logits = results[feature.unique_id]
            for s in _best_indexes(start_logits, n_best_size):
                for e in _best_indexes(end_logits, n_best_size):
                    if s >= len(feature.tokens) or e >= len(feature.tokens):
                        continue
                    if s not in feature.token_to_orig_map or e not in feature.token_to_orig_map:
                        continue
                    if not feature.token_is_max_context.get(s, False) or e < s:
                        continue
                    if e - s + 1 > max_answer_length:
                        continue
                    prelim.append((start_logits[s] + end_logits[e], feature, s, e,
                                   start_logits[s], end_logits[e]))
        prelim.sort(key=lambda x: -x[0])
        nbest, seen = [], set()
        for total, feature, s, e, start_logit, end_logit in prelim:
            if len(nbest) >= n_best_size:
                break
            tok_text = " ".join(feature.tokens[s:e + 1]).replace(" ##", "").replace("##", "")
            tok_text = " ".join(tok_text.strip().split())
            orig_start = example.token_spans[feature.token_to_orig_map[s]][0]
            orig_end = example.token_spans[feature.token_to_orig_map[e]][1]
            final_text = get_final_text(tok_text, example.context[orig_start:orig_end],
                                        do_lower_case)
            if final_text in seen:
                continue
            seen.add(final_text)
            nbest.append((final_text, total, start_logit, end_logit))
        if not nbest:
            nbest.append(("empty", 0.0, 0.0, 0.0))
        probs = _softmax([n[1] for n in nbest])
        all_nbest[example.qas_id] = [
            {"text": text, "probability": p, "start_logit": float(sl), "end_logit": float(el)}
            for (text, _, sl, el), p in zip(nbest, probs)]
        predictions[example.qas_id] = nbest[0][0]
    return predictions, all_nbest


def write_predictions(output_dir, predictions, nbest, prefix=""):
    """<prefix>predictions.json and <prefix>nbest_predictions.json (atomic)."""
    write_json(os.path.join(output_dir, prefix + "predictions.json"), predictions)
    write_json(os.path.join(output_dir, prefix + "nbest_predictions.json"), nbest)
    return os.path.join(output_dir, prefix + "predictions.json")


# ----------------------------------------------------------------------------------------------
# Official metrics
# ----------------------------------------------------------------------------------------------

def squad_normalize_answer(s):
    """SQuAD v1.1: lower-case, remove punctuation, articles and extra whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def squad_f1(prediction, ground_truth):
    pred_tokens = squad_normalize_answer(prediction).split()
    gold_tokens = squad_normalize_answer(ground_truth).split()
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / float(len(pred_tokens))
    recall = num_same / float(len(gold_tokens))
    return 2 * precision * recall / (precision + recall)


def squad_em(prediction, ground_truth):
    return float(squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth))


CMRC_SP_CHARS = ["-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：", "？",
                 "！", "“", "”", "；", "’", "《", "》", "……", "·", "、", "「", "」", "（", "）",
                 "－", "～", "『", "』"]
_CMRC_CJK = re.compile(u"[\u4e00-\u9fa5]")
_WORDS = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def cmrc_mixed_segmentation(text, rm_punc=False):
    """CJK characters (and CMRC's special characters) one segment each, other runs as words."""
    text = str(text).lower().strip()
    segments, run = [], ""
    for char in text:
        if rm_punc and char in CMRC_SP_CHARS:
            continue
        if _CMRC_CJK.search(char) or char in CMRC_SP_CHARS:
            if run:
                segments.extend(_WORDS.findall(run))
                run = ""
            segments.append(char)
        else:
            run += char
    if run:
        segments.extend(_WORDS.findall(run))
    return segments


def cmrc_remove_punctuation(text):
    """Lower-cased, stripped, without CMRC's special characters (the official list only)."""
    text = str(text).lower().strip()
    return "".join(c for c in text if c not in CMRC_SP_CHARS)


def longest_common_run(a, b):
    """Length of the longest common contiguous run of two sequences (CMRC's find_lcs)."""
    best = 0
    row = [0] * (len(b) + 1)
    for i in range(len(a)):
        new = [0] * (len(b) + 1)
        for j in range(len(b)):
            if a[i] == b[j]:
                new[j + 1] = row[j] + 1
                best = max(best, new[j + 1])
        row = new
    return best


def cmrc_f1(prediction, ground_truth):
    gold = cmrc_mixed_segmentation(ground_truth, rm_punc=True)
    pred = cmrc_mixed_segmentation(prediction, rm_punc=True)
    lcs = longest_common_run(gold, pred)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / float(len(pred)), lcs / float(len(gold))
    return 2 * precision * recall / (precision + recall)


def cmrc_em(prediction, ground_truth):
    return float(cmrc_remove_punctuation(ground_truth) == cmrc_remove_punctuation(prediction))


METRICS = {"squad_v1": (squad_em, squad_f1), "cmrc2018": (cmrc_em, cmrc_f1)}


def choose_metric(examples):
    """cmrc2018 when the contexts are Chinese (any CJK character), else squad_v1."""
    for example in examples:
        if any(_is_chinese_char(ord(c)) for c in example.context[:2000]):
            return "cmrc2018"
    return "squad_v1"


def evaluate(examples, predictions, metric):
    """{"exact_match", "f1", "total"}: means over the questions (a missing prediction scores 0),
    each the max over that question's gold answers."""
    em_fn, f1_fn = METRICS[metric]
    em = f1 = 0.0
    scored = [ex for ex in examples if ex.answers]
    for example in scored:
        prediction = predictions.get(example.qas_id)
        if prediction is None:
            continue
        em += max(em_fn(prediction, gold) for gold in example.answers)
        f1 += max(f1_fn(prediction, gold) for gold in example.answers)
    total = len(scored)
    return {"exact_match": em / total if total else 0.0, "f1": f1 / total if total else 0.0,
            "total": total}
