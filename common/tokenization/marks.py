"""Word-boundary marks carried by tokens (used by whole-word masking in common/pretraining_data)."""


class WordContinuation(str):
    """A token that continues the word before it (a jieba word's 2nd.. character, a sentencepiece
    piece without the word-start mark). Equal to and hashed as the plain string, so vocabulary
    lookups and TFRecords are unchanged; whole-word masking reads the mark."""

    __slots__ = ()
