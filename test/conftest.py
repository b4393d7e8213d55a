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


_PROBES = {}


def platform_runs(feature):
    """True when this TensorFlow really runs `feature` on this CPU ('grouped_conv' or
    'bf16_rewrite'), found by running it in a subprocess (test/fixtures/platform_probe.py): the
    independent answer that the project's own platform decisions are checked against."""
    import subprocess
    if feature not in _PROBES:
        probe = os.path.join(REPO_ROOT, "test", "fixtures", "platform_probe.py")
        proc = subprocess.run([sys.executable, probe, feature], env=python_env(),
                              capture_output=True, text=True, timeout=300)
        _PROBES[feature] = proc.returncode == 0
    return _PROBES[feature]
