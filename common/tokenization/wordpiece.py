# coding=utf-8
"""WordPiece tokenization with the behaviour of google-research/bert's tokenization.py.

Three layers, as in the original:

* ``BasicTokenizer``: text clean-up (drops NUL, U+FFFD and control characters, maps every
  whitespace character to a space), a space around every CJK ideograph, optional lower-casing
  plus accent stripping (NFD, drop category ``Mn``), and a split on every punctuation character
  (all non-alphanumeric printable ASCII counts as punctuation, plus Unicode category ``P*``).
* ``WordpieceTokenizer``: greedy longest-match-first over the vocabulary, continuation pieces
  prefixed with ``##``; a word with no full segmentation (or longer than
  ``max_input_chars_per_word``) becomes ``[UNK]`` as a whole.
* ``FullTokenizer``: the two in sequence, plus id <-> token conversion.

The module has no TensorFlow dependency so data tools and tests import it cheaply.
"""

import collections
import io
import os
import re
import unicodedata


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
    """Raises ValueError when `do_lower_case` contradicts a well-known checkpoint's directory name.

    The casing is not stored in bert_config.json, so, like the original, this looks at the
    directory name of `init_checkpoint` (e.g. `uncased_L-12_H-768_A-12/bert_model.ckpt`).
    """
    if not init_checkpoint:
        return
    match = re.match(r"^.*?([A-Za-z0-9_-]+)/bert_model\.ckpt", init_checkpoint)
    if match is None:
        return
    model_name = match.group(1)
    lower_models = ["uncased_L-24_H-1024_A-16", "uncased_L-12_H-768_A-12",
                    "multilingual_L-12_H-768_A-12", "chinese_L-12_H-768_A-12"]
    cased_models = ["cased_L-12_H-768_A-12", "cased_L-24_H-1024_A-16",
                    "multi_cased_L-12_H-768_A-12"]
    if model_name in lower_models and not do_lower_case:
        raise ValueError("--do_lower_case=False with --init_checkpoint=%s, but %s is a lowercased "
                         "model: pass --do_lower_case=True" % (init_checkpoint, model_name))
    if model_name in cased_models and do_lower_case:
        raise ValueError("--do_lower_case=True with --init_checkpoint=%s, but %s is a cased "
                         "model: pass --do_lower_case=False" % (init_checkpoint, model_name))


def convert_to_unicode(text):
    """Returns `text` as `str`, decoding bytes as UTF-8 (invalid bytes are dropped)."""
    if isinstance(text, str):
        return text
    if isinstance(text, bytes):
        return text.decode("utf-8", "ignore")
    raise ValueError("Unsupported string type: %s" % type(text))


def printable_text(text):
    """Returns `text` as `str`, suitable for printing or logging."""
    return convert_to_unicode(text)


def load_vocab(vocab_file):
    """Loads a vocabulary file (one token per line, id = line number) into an OrderedDict.

    Raises:
      FileNotFoundError: `vocab_file` does not exist (the message names the file).
      ValueError: the file is empty.
    """
    if not vocab_file or not os.path.isfile(vocab_file):
        raise FileNotFoundError("vocab_file not found: %s" % (vocab_file,))
    vocab = collections.OrderedDict()
    # lines end at "\n" only, as the original's tf.gfile readline: a bare "\r" inside a line stays in
    # its token (universal newlines would split it and shift every later id); "\r\n" is stripped
    with io.open(vocab_file, "r", encoding="utf-8", errors="ignore", newline="\n") as reader:
        for index, line in enumerate(reader):
            token = line.strip()
            vocab[token] = index
    if not vocab:
        raise ValueError("vocab_file is empty: %s" % vocab_file)
    return vocab


def convert_by_vocab(vocab, items):
    """Maps each item through `vocab` (a KeyError names the first unknown item)."""
    output = []
    for item in items:
        output.append(vocab[item])
    return output


def convert_tokens_to_ids(vocab, tokens):
    return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab, ids):
    return convert_by_vocab(inv_vocab, ids)


def whitespace_tokenize(text):
    """Strips `text` and splits it on runs of whitespace."""
    text = text.strip()
    if not text:
        return []
    return text.split()


class FullTokenizer(object):
    """BasicTokenizer followed by WordpieceTokenizer, with the vocabulary loaded from a file."""

    def __init__(self, vocab_file, do_lower_case=True):
        self.vocab = load_vocab(vocab_file)
        if "[UNK]" not in self.vocab:
            raise ValueError("vocab_file %s has no [UNK] token" % vocab_file)
        self.inv_vocab = {v: k for k, v in self.vocab.items()}
        self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
        self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)

    def tokenize(self, text):
        """Returns the list of WordPiece tokens of `text`."""
        split_tokens = []
        for token in self.basic_tokenizer.tokenize(text):
            for sub_token in self.wordpiece_tokenizer.tokenize(token):
                split_tokens.append(sub_token)
        return split_tokens

    def convert_tokens_to_ids(self, tokens):
        return convert_by_vocab(self.vocab, tokens)

    def convert_ids_to_tokens(self, ids):
        return convert_by_vocab(self.inv_vocab, ids)


class BasicTokenizer(object):
    """Clean-up, CJK spacing, optional lower-casing/accent stripping, punctuation splitting."""

    def __init__(self, do_lower_case=True):
        self.do_lower_case = do_lower_case

    def tokenize(self, text):
        """Returns the list of basic tokens of `text`."""
        text = convert_to_unicode(text)
        text = self._clean_text(text)
        text = self._tokenize_chinese_chars(text)
        split_tokens = []
        for token in whitespace_tokenize(text):
            if self.do_lower_case:
                token = token.lower()
                token = self._run_strip_accents(token)
            split_tokens.extend(self._run_split_on_punc(token))
        return whitespace_tokenize(" ".join(split_tokens))

    def _run_strip_accents(self, text):
        """Decomposes to NFD and drops the combining marks (category Mn)."""
        text = unicodedata.normalize("NFD", text)
        return "".join(char for char in text if unicodedata.category(char) != "Mn")

    def _run_split_on_punc(self, text):
        """Splits `text` so that every punctuation character is a piece of its own."""
        pieces = []
        start_new_word = True
        for char in text:
            if _is_punctuation(char):
                pieces.append(char)
                start_new_word = True
            else:
                if start_new_word:
                    pieces.append("")
                start_new_word = False
                pieces[-1] += char
        return pieces

    def _tokenize_chinese_chars(self, text):
        """Puts a space on both sides of every CJK ideograph."""
        output = []
        for char in text:
            if _is_chinese_char(ord(char)):
                output.append(" ")
                output.append(char)
                output.append(" ")
            else:
                output.append(char)
        return "".join(output)

    def _clean_text(self, text):
        """Drops NUL, U+FFFD and control characters; maps whitespace characters to a space."""
        output = []
        for char in text:
            cp = ord(char)
            if cp == 0 or cp == 0xFFFD or _is_control(char):
                continue
            output.append(" " if _is_whitespace(char) else char)
        return "".join(output)


class WordpieceTokenizer(object):
    """Greedy longest-match-first WordPiece segmentation."""

    def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=200):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def tokenize(self, text):
        """Splits each whitespace-separated word of `text` into word pieces.

        Example: "unaffable" -> ["un", "##aff", "##able"] with a suitable vocabulary.
        `text` should already have been through BasicTokenizer.
        """
        text = convert_to_unicode(text)
        output_tokens = []
        for token in whitespace_tokenize(text):
            if len(token) > self.max_input_chars_per_word:
                output_tokens.append(self.unk_token)
                continue
            sub_tokens = []
            start = 0
            while start < len(token):
                end = len(token)
                piece = None
                while start < end:
                    candidate = token[start:end]
                    if start > 0:
                        candidate = "##" + candidate
                    if candidate in self.vocab:
                        piece = candidate
                        break
                    end -= 1
                if piece is None:
                    sub_tokens = None
                    break
                sub_tokens.append(piece)
                start = end
            if sub_tokens is None:
                output_tokens.append(self.unk_token)
            else:
                output_tokens.extend(sub_tokens)
        return output_tokens


def _is_chinese_char(cp):
    """True for a code point in the CJK Unified Ideographs blocks (not Hangul/Kana)."""
    return ((0x4E00 <= cp <= 0x9FFF) or
            (0x3400 <= cp <= 0x4DBF) or
            (0x20000 <= cp <= 0x2A6DF) or
            (0x2A700 <= cp <= 0x2B73F) or
            (0x2B740 <= cp <= 0x2B81F) or
            (0x2B820 <= cp <= 0x2CEAF) or
            (0xF900 <= cp <= 0xFAFF) or
            (0x2F800 <= cp <= 0x2FA1F))


def _is_whitespace(char):
    """Space, tab, newline, carriage return and Unicode category Zs."""
    if char in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(char) == "Zs"


def _is_control(char):
    """Categories Cc and Cf, except tab/newline/carriage return (treated as whitespace)."""
    if char in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
    """All non-alphanumeric printable ASCII (so ^ $ ` count) and Unicode category P*."""
    cp = ord(char)
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(char).startswith("P")
