"""Tokenizers shared by the NLP models.

`wordpiece` holds BERT's WordPiece stack (BasicTokenizer, WordpieceTokenizer, FullTokenizer),
faithful to google-research/bert. `sentencepiece_tokenizer.SentencePieceTokenizer` is
google-research/albert's sentencepiece path (English ALBERT vocabularies).
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
from common.tokenization.sentencepiece_tokenizer import SentencePieceTokenizer  # noqa: F401,E402
