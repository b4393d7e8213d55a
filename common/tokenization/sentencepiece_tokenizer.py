# coding=utf-8
"""Sentencepiece tokenization as google-research/albert's FullTokenizer(spm_model_file=...).

Text is normalised as the original's preprocess_text (whitespace collapsed, NFKD with combining
marks dropped, lower-cased when asked), encoded into pieces, and a piece like "12," (digits then a
comma) is split into the digits' pieces and ",". The vocabulary is the model's pieces in id order.
Pieces that do not start a word (no leading "▁", not "<...>", not punctuation) are returned as
WordContinuation, so whole-word masking keeps words together as the original's is_start_piece.
"""

import unicodedata

from common.tokenization.marks import WordContinuation
from common.tokenization.wordpiece import convert_to_unicode

SPIECE_UNDERLINE = u"\u2581"
_START_PIECES = set('!"#$%&"()*+,-./:;?@[\\]^_`{|}~') | {u"\u20ac"}


def preprocess_text(text, remove_space=True, lower=False):
    """The original's normalisation of raw text before sentencepiece."""
    text = convert_to_unicode(text)
    if remove_space:
        text = " ".join(text.strip().split())
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.lower() if lower else text


def is_start_piece(piece):
    return piece.startswith(SPIECE_UNDERLINE) or piece.startswith("<") or piece in _START_PIECES


class SentencePieceTokenizer(object):
    """tokenize / convert_tokens_to_ids / convert_ids_to_tokens / vocab, like FullTokenizer."""

    def __init__(self, spm_model_file, do_lower_case=True):
        import sentencepiece  # only the sentencepiece path needs it

        self.sp_model = sentencepiece.SentencePieceProcessor()
        try:
            loaded = self.sp_model.Load(spm_model_file)
        except (OSError, RuntimeError) as err:
            raise ValueError("spm_model_file %s is not a sentencepiece model (%s)"
                             % (spm_model_file, str(err).strip().splitlines()[0]))
        if loaded is False:
            raise ValueError("spm_model_file %s is not a sentencepiece model" % spm_model_file)
        self.do_lower_case = do_lower_case
        self.vocab = {self.sp_model.IdToPiece(i): i
                      for i in range(self.sp_model.GetPieceSize())}
        self.inv_vocab = {i: piece for piece, i in self.vocab.items()}

    def _encode(self, text):
        pieces = []
        for piece in self.sp_model.EncodeAsPieces(text):
            if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                sub = self.sp_model.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
                if piece[0] != SPIECE_UNDERLINE and sub and sub[0].startswith(SPIECE_UNDERLINE):
                    sub = sub[1:] if len(sub[0]) == 1 else [sub[0][1:]] + sub[1:]
                pieces.extend(sub + [piece[-1]])
            else:
                pieces.append(piece)
        return pieces

    def tokenize(self, text):
        pieces = self._encode(preprocess_text(text, lower=self.do_lower_case))
        return [p if (i == 0 or is_start_piece(p)) else WordContinuation(p)
                for i, p in enumerate(pieces)]

    def convert_tokens_to_ids(self, tokens):
        return [self.sp_model.PieceToId(str(token)) for token in tokens]

    def convert_ids_to_tokens(self, ids):
        return [self.inv_vocab[i] for i in ids]
