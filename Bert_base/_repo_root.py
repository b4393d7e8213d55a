"""Puts the repository root on sys.path, so `python Bert_base/<script>.py` works from any folder.

Run as a file, a script's sys.path[0] is Bert_base/ itself, where neither `common` nor the
`Bert_base` package can be imported; each script imports this module first in that case only
(`if not __package__:`), which is what `python -m Bert_base.<script>` from the root gives anyway.
"""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
