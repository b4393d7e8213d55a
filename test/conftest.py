"""pytest set-up: repo root on sys.path, quiet TensorFlow, shared fixtures."""
import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def repo_root():
    return REPO_ROOT


@pytest.fixture
def tf_graph():
    """A fresh default graph for graph-mode tests."""
    import tensorflow.compat.v1 as tf
    graph = tf.Graph()
    with graph.as_default():
        yield graph


def python_env(extra=None):
    """Environment for subprocesses that run project code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra or {})
    return env
