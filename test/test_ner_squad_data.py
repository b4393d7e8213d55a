# coding=utf-8
"""NER and reading-comprehension data (common/ner_data.py, common/squad_data.py): conlleval-style
entity metrics, WordPiece alignment and windows, the official SQuAD v1.1 / CMRC 2018 EM and F1,
sliding windows and n-best decoding back onto the original characters - on hand-worked cases -
and the one-line errors of bad files."""
import json
import re

import pytest

from common import ner_data, squad_data
from common.tokenization import FullTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "john", "##son", "lives", "in", "new", "york",
         "the", "family", "(", ")", "who", "is", "北", "京", "江", "泽", "民", "在", "谁", "。"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("".join(t + "\n" for t in VOCAB), encoding="utf-8")
    return FullTokenizer(str(path), do_lower_case=True)


# ---------------------------------------------------------------------------- NER metrics

def test_entities_follow_conlleval_chunk_rules():
    assert ner_data.get_entities(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]
    assert ner_data.get_entities(["O", "I-PER", "I-PER", "O"]) == [("PER", 1, 3)]   # I after O starts
    assert ner_data.get_entities(["B-PER", "I-LOC"]) == [("PER", 0, 1), ("LOC", 1, 2)]  # type change
    assert ner_data.get_entities(["B-LOC", "E-LOC", "S-PER"]) == [("LOC", 0, 2), ("PER", 2, 3)]
    assert ner_data.get_entities(["S-PER", "I-PER"]) == [("PER", 0, 1), ("PER", 1, 2)]
    assert ner_data.get_entities(["B-ORG", "M-ORG", "E-ORG"]) == [("ORG", 0, 3)]   # BMES
    assert ner_data.get_entities(["B-PER", "B-PER"]) == [("PER", 0, 1), ("PER", 1, 2)]


def test_entity_metrics_partial_and_type_mismatched_spans():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-PER"]]   # exact, partial, wrong type
    m = ner_data.entity_metrics(gold, pred)
    assert (m["micro"]["correct"], m["micro"]["predicted"], m["micro"]["gold"]) == (1, 3, 3)
    assert m["micro"]["precision"] == pytest.approx(1 / 3) and m["micro"]["f1"] == pytest.approx(1 / 3)
    per = m["per_type"]
    assert per["PER"]["precision"] == 0.5 and per["PER"]["recall"] == 1.0
    assert per["PER"]["f1"] == pytest.approx(2 / 3)
    assert per["LOC"]["f1"] == 0.0 and per["ORG"]["predicted"] == 0 and per["ORG"]["recall"] == 0.0
    # two sentences: counts add up (micro), an entity never spans the sentence boundary
    m = ner_data.entity_metrics([["B-LOC"], ["I-LOC", "O"]], [["B-LOC"], ["B-LOC", "O"]])
    assert m["micro"]["correct"] == 2 and m["micro"]["f1"] == 1.0


# ---------------------------------------------------------------------------- NER data

def test_wordpiece_alignment_windows_and_the_way_back(tokenizer):
    ex = ner_data.NerExample("x", ["Johnson", "lives", "in", "New", "York"],
                             ["B-PER", "O", "O", "B-LOC", "I-LOC"], "t.txt line 1")
    labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    features, windows = ner_data.convert_examples_to_features([ex], labels, 10, tokenizer)
    assert windows == [(0, 0, 5)]
    f = features[0]
    assert tokenizer.convert_ids_to_tokens(f["input_ids"][:8]) == [
        "[CLS]", "john", "##son", "lives", "in", "new", "york", "[SEP]"]
    assert f["label_mask"] == [0, 1, 0, 1, 1, 1, 1, 0, 0, 0]      # first pieces only
    assert f["label_ids"][:7] == [0, 3, 0, 0, 0, 1, 2]
    assert f["input_mask"] == [1] * 8 + [0] * 2
    # 3 pieces of room: the sentence becomes two windows, and comes back whole
    features, windows = ner_data.convert_examples_to_features([ex], labels, 5, tokenizer)
    assert windows == [(0, 0, 2), (0, 2, 3)]
    back = ner_data.tags_from_predictions([ex], windows, features,
                                          [f["label_ids"] for f in features], labels)
    assert back == [ex.tags]


def test_conll_and_cluener_readers(tmp_path):
    (tmp_path / "train.txt").write_text("-DOCSTART- O\n\n北 B-LOC\n京 E-LOC\n\n江 S-PER\n",
                                        encoding="utf-8")
    examples = ner_data.read_split(str(tmp_path), "train", ner_data.detect_format(str(tmp_path)))
    assert [e.tokens for e in examples] == [["北", "京"], ["江"]]
    assert examples[1].source == "train.txt line 6"
    assert ner_data.labels_of(examples) == ["O", "B-LOC", "E-LOC", "S-PER"]

    record = {"text": "浙商银行 叶老桂博士", "label": {"name": {"叶老桂": [[5, 7]]},
                                                    "company": {"浙商银行": [[0, 3]]}}}
    path = tmp_path / "c" / "dev.json"
    path.parent.mkdir()
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    assert ner_data.detect_format(str(path.parent)) == "cluener"
    ex, = ner_data.read_cluener(str(path))
    assert ex.tokens == list("浙商银行叶老桂博士")            # the space is no token
    assert ex.tags == ["B-company", "I-company", "I-company", "I-company", "B-name", "I-name",
                       "I-name", "O", "O"]
    out = tmp_path / "pred.json"
    ner_data.write_predictions(str(out), [ex], [ex.tags], "cluener")
    assert json.loads(out.read_text(encoding="utf-8"))["label"] == record["label"]  # original offsets


@pytest.mark.parametrize("name, text, message", [
    ("train.txt", "北 B-LOC\n京 X-LOC\n", "train.txt line 2: tag 'X-LOC'"),
    ("train.txt", "北 B-LOC\n京\n", "train.txt line 2: expected `token TAG`"),
    ("train.txt", "\n\n", "no sentences (empty file)"),
    ("train.json", '{"text": "北京", "label": {"LOC": {"北京": [[0, 1]]}}}\n{"text": \n',
     "train.json line 2: not valid JSON"),
    ("train.json", '{"text": "北京", "label": {"LOC": {"南京": [[0, 1]]}}}\n',
     "train.json line 1: span [0, 1] of LOC is '北京', not '南京'"),
])
def test_bad_ner_files_name_file_and_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)):
        ner_data.read_split(str(tmp_path), "train", ner_data.detect_format(str(tmp_path)))


def test_tag_outside_the_label_list_names_the_line():
    ex = ner_data.NerExample("x", ["北", "京"], ["B-LOC", "I-GPE"], "dev.txt line 7")
    with pytest.raises(ValueError, match=r"dev.txt line 7 \(token 2 '京'\): tag 'I-GPE'"):
        ner_data.check_labels([ex], ["O", "B-LOC", "I-LOC"])


# ---------------------------------------------------------------------------- official metrics

def test_squad_v1_metrics_hand_worked():
    assert squad_data.squad_em("the Denver Broncos!", "Denver Broncos") == 1.0  # article, punct
    assert squad_data.squad_f1("Broncos won", "Denver Broncos") == pytest.approx(0.5)
    assert squad_data.squad_f1("a", "Denver") == 0.0


def test_cmrc2018_metrics_hand_worked():
    assert squad_data.cmrc_f1("江泽民主席", "江泽民") == pytest.approx(0.75)   # P 3/5, R 1
    assert squad_data.cmrc_em("江泽民主席", "江泽民") == 0.0
    assert squad_data.cmrc_em("《人民日报》", "人民日报") == 1.0                # punctuation off
    assert squad_data.cmrc_f1("1998年", "1998") == pytest.approx(2 / 3)       # word + character
    assert squad_data.cmrc_f1("北京上海", "北上") == pytest.approx(1 / 3)      # contiguous run: 1
    assert squad_data.cmrc_mixed_segmentation("BERT模型v2", rm_punc=True) == ["bert", "模", "型", "v2"]


def test_evaluate_max_over_answers_missing_prediction_scores_zero():
    def ex(qid, answers):
        return squad_data.SquadExample(qid, "q", "c", [], [], answers)
    examples = [ex("a", ["江泽民", "江泽民主席"]), ex("b", ["北京"])]
    scores = squad_data.evaluate(examples, {"a": "江泽民主席"}, "cmrc2018")
    assert scores == {"exact_match": 0.5, "f1": 0.5, "total": 2}


# ---------------------------------------------------------------------------- reading data

def _squad_file(tmp_path, context, qas, name="dev.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": context, "qas": qas}]}]},
                               ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_context_tokens_keep_character_spans():
    tokens, spans = squad_data.split_context("Hi, 北京  world")
    assert tokens == ["Hi,", "北", "京", "world"]
    assert spans == [(0, 3), (4, 5), (5, 6), (8, 13)]


def test_windows_max_context_and_training_positions(tmp_path, tokenizer):
    context = "北京 john lives in new york the family"
    path = _squad_file(tmp_path, context, [{"id": "q1", "question": "who is",
                                            "answers": [{"text": "new york", "answer_start": 17}]}])
    ex, = squad_data.read_squad_examples(path, is_training=True)
    assert (ex.start_position, ex.end_position) == (5, 6)
    # 10 pieces: [CLS] who is [SEP] + 5 document pieces + [SEP]; the document has 9 pieces
    features = squad_data.convert_examples_to_features([ex], tokenizer, max_seq_length=10,
                                                       doc_stride=3, max_query_length=8,
                                                       is_training=True)
    assert [f.tokens[4:-1] for f in features] == [
        ["北", "京", "john", "lives", "in"], ["lives", "in", "new", "york", "the"],
        ["york", "the", "family"]]
    assert [(f.start_position, f.end_position) for f in features] == [(0, 0), (6, 7), (0, 0)]
    # score min(left, right) + 0.01 * length: "lives" (piece 3) belongs to window 0, "new"
    # (piece 5) to window 1, "the" (piece 7) to window 2
    assert features[0].token_is_max_context[7] and not features[1].token_is_max_context[4]
    assert features[1].token_is_max_context[6]
    assert features[2].token_is_max_context[5] and not features[1].token_is_max_context[8]


def test_decoding_maps_back_onto_original_characters(tmp_path, tokenizer):
    context = "the (Johnson) family 在 北京。"
    path = _squad_file(tmp_path, context, [
        {"id": "en", "question": "who", "answers": [{"text": "Johnson", "answer_start": 5}]},
        {"id": "zh", "question": "在 谁", "answers": [{"text": "北京", "answer_start": 23}]}])
    examples = squad_data.read_squad_examples(path, is_training=False)
    features = squad_data.convert_examples_to_features(examples, tokenizer, 32, 8, 8, False)
    results = {}
    for f in features:
        want = ["john", "##son"] if examples[f.example_index].qas_id == "en" else ["北", "京"]
        start = f.tokens.index(want[0])
        start_logits = [0.0] * len(f.tokens)
        end_logits = [0.0] * len(f.tokens)
        start_logits[start], end_logits[start + 1] = 5.0, 5.0
        results[f.unique_id] = (start_logits, end_logits)
    predictions, nbest = squad_data.decode_predictions(examples, features, results, 5, 30, True)
    assert predictions == {"en": "Johnson", "zh": "北京"}     # no "(", original case, no spaces
    assert sum(n["probability"] for n in nbest["zh"]) == pytest.approx(1.0)
    # an answer longer than max_answer_length is never chosen
    predictions, _ = squad_data.decode_predictions(examples, features, results, 5, 1, True)
    assert predictions["zh"] != "北京"


@pytest.mark.parametrize("qas, message", [
    ([{"id": "q7", "question": "谁", "answers": [{"text": "上海", "answer_start": 0}]}],
     "dev.json question id q7: answer '上海' is not at answer_start 0"),
    ([{"id": "q8", "question": "谁", "answers": [{"text": "上海"}]}],
     "dev.json question id q8: answer '上海' does not occur in its context"),
])
def test_bad_answers_name_file_and_question(tmp_path, qas, message):
    path = _squad_file(tmp_path, "北京是首都", qas)
    with pytest.raises(ValueError, match=message):
        squad_data.read_squad_examples(path, is_training=False)


def test_malformed_and_empty_squad_files(tmp_path):
    (tmp_path / "a.json").write_text('{"data": [', encoding="utf-8")
    with pytest.raises(ValueError, match="a.json: not SQuAD-format JSON"):
        squad_data.read_squad_examples(str(tmp_path / "a.json"), False)
    (tmp_path / "b.json").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="b.json: empty file"):
        squad_data.read_squad_examples(str(tmp_path / "b.json"), False)
