# coding=utf-8
"""Sentencepiece text preprocessing and encoding as zihangdai/xlnet prepro_utils.py (also the
rules of ALBERT-en): whitespace collapsing, `` and '' to ", accents stripped by NFKD unless kept,
optional lower-casing, and the digit-comma rule (a piece such as "2000," is re-encoded as its digits
followed by a separate "," piece)."""

import os
import unicodedata

SPIECE_UNDERLINE = u"\u2581"


def preprocess_text(inputs, lower=False, remove_space=True, keep_accents=False):
    outputs = " ".join(inputs.strip().split()) if remove_space else inputs
    outputs = outputs.replace("``", '"').replace("''", '"')
    if not keep_accents:
        outputs = unicodedata.normalize("NFKD", outputs)
        outputs = "".join(c for c in outputs if not unicodedata.combining(c))
    if lower:
        outputs = outputs.lower()
    return outputs


def encode_pieces(sp_model, text, sample=False):
    pieces = sp_model.SampleEncodeAsPieces(text, 64, 0.1) if sample else sp_model.EncodeAsPieces(text)
    new_pieces = []
    for piece in pieces:
        if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
            cur_pieces = sp_model.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
            # keep the word-start marker only where the original piece had one
            if piece[0] != SPIECE_UNDERLINE and cur_pieces[0][0] == SPIECE_UNDERLINE:
                if len(cur_pieces[0]) == 1:
                    cur_pieces = cur_pieces[1:]
                else:
                    cur_pieces[0] = cur_pieces[0][1:]
            cur_pieces.append(piece[-1])
            new_pieces.extend(cur_pieces)
        else:
            new_pieces.append(piece)
    return new_pieces


def encode_ids(sp_model, text, sample=False):
    return [sp_model.PieceToId(piece) for piece in encode_pieces(sp_model, text, sample=sample)]


def load_model(path):
    """A SentencePieceProcessor for `path` (FileNotFoundError naming the file)."""
    import sentencepiece as spm
    if not os.path.isfile(path):
        raise FileNotFoundError("sentencepiece model not found: %s" % path)
    sp_model = spm.SentencePieceProcessor()
    sp_model.Load(path)
    return sp_model


class SentencePieceTokenizer(object):
    """tokenize(text) -> ids after preprocess_text (the XLNet classifier's tokenize_fn)."""

    def __init__(self, model_file, do_lower_case=False):
        self.sp_model = load_model(model_file)
        self.do_lower_case = do_lower_case

    def tokenize(self, text):
        return encode_ids(self.sp_model, preprocess_text(text, lower=self.do_lower_case))


XLNET_CONTROL_SYMBOLS = ("<cls>", "<sep>", "<pad>", "<mask>", "<eod>")
XLNET_USER_SYMBOLS = ("<eop>",)


def train_model(input_file, model_prefix, vocab_size, control_symbols=XLNET_CONTROL_SYMBOLS,
                user_defined_symbols=XLNET_USER_SYMBOLS, character_coverage=0.9995, **options):
    """Trains a unigram sentencepiece model (<prefix>.model, <prefix>.vocab) from a text file.

    With the default symbols the ids are XLNet's: <unk> 0, <s> 1, </s> 2, <cls> 3, <sep> 4,
    <pad> 5, <mask> 6, <eod> 7, <eop> 8. Not bit-reproducible: two builds of the demo model had
    the same pieces in the same order, but scores differing in the last digits. `options` go to the trainer as they are
    (e.g. split_by_unicode_script=False, which lets pieces such as "2000," form)."""
    import json
    import subprocess
    import sys
    args = dict(input=input_file, model_prefix=model_prefix, vocab_size=vocab_size,
                model_type="unigram", character_coverage=character_coverage,
                control_symbols=",".join(control_symbols),
                user_defined_symbols=",".join(user_defined_symbols),
                num_threads=1, minloglevel=2, **options)
    # A separate process: on TF 1.15 the trainer segfaults once tensorflow is imported (their
    # protobuf runtimes clash); loading and encoding are unaffected.
    code = ("import json, sys, sentencepiece as spm; "
            "spm.SentencePieceTrainer.Train(**json.loads(sys.argv[1]))")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
        raise RuntimeError("sentencepiece training on %s failed: %s"
                           % (input_file, lines[-1] if lines else "exit %d" % proc.returncode))
    return model_prefix + ".model"
