"""Puts the repository root on sys.path, so `python XLNet/<script>.py` works from any folder
(as Bert_base/_repo_root.py; imported first by each script only when run as a file)."""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
