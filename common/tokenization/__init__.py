"""Tokenizers shared by the NLP models.

`wordpiece` holds BERT's WordPiece stack (BasicTokenizer, WordpieceTokenizer, FullTokenizer),
faithful to google-research/bert. A sentencepiece wrapper (ALBERT-en, XLNet) belongs here too.
"""

from common.tokenization.wordpiece import (  # noqa: F401
    BasicTokenizer,
    FullTokenizer,
    WordpieceTokenizer,
    convert_by_vocab,
    convert_ids_to_tokens,
    convert_to_unicode,
    convert_tokens_to_ids,
    load_vocab,
    printable_text,
    validate_case_matches_checkpoint,
    whitespace_tokenize,
)
