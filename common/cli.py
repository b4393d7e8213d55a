"""The entry-point wrapper: absl flags, then user errors as one `error: ...` line and exit 1.

    if __name__ == "__main__":
        cli.run_entry_point(run, input_flag="data_dir")

A user error is a bad flag or file (UsageError, ValueError, OSError, the model's own
error types) or bad input data found while running (TensorFlow's InvalidArgumentError and
DataLossError, e.g. a corrupt TFRecord or image). Set MODELZOO_TRACEBACK=1 to get the traceback.
"""
import os
import re
import sys

import tensorflow.compat.v1 as tf
from absl import app, flags

from common.npu_runconfig import UsageError

USER_ERRORS = (UsageError, ValueError, OSError)  # OSError: missing/unreadable/unwritable files
DATA_ERRORS = (tf.errors.InvalidArgumentError, tf.errors.DataLossError)


def op_error_line(exc):
    """The informative line of a TensorFlow op error (TF 2 prefixes 'Graph execution error:',
    TF 1.15 errors raised inside tf.data functions '{{function_node ...}} ')."""
    for line in exc.message.splitlines():
        line = re.sub(r"^\s?\{\{function_node [^}]*\}\}\s*", "", line)
        text = line.strip()
        # Indented lines are node references and stack frames; TF 1.15 may lead with one space.
        if (text and not line.startswith(("\t", "  ")) and not text.startswith("[[")
                and not text.startswith(("Graph execution error", "Detected at node", "Node:"))):
            if "JPEG" in text and "assertion failed" not in text:
                text += " (a corrupt image in a record)"
            return text
    return type(exc).__name__


def error_line(exc, input_flag=None):
    if isinstance(exc, DATA_ERRORS):
        where = " under --%s=%s" % (input_flag, flags.FLAGS[input_flag].value) if input_flag else ""
        return "bad input data%s: %s" % (where, op_error_line(exc))
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def run_entry_point(run, input_flag=None, user_errors=()):
    """app.run(run) with one-line errors. `run` takes no arguments; positional args are refused."""
    def main(argv):
        if len(argv) > 1:
            print("error: unexpected arguments %s (flags are --key=value)" % " ".join(argv[1:]),
                  file=sys.stderr)
            return 1
        try:
            run()
        except USER_ERRORS + DATA_ERRORS + tuple(user_errors) as exc:
            if os.environ.get("MODELZOO_TRACEBACK") == "1":
                raise
            print("error: %s" % error_line(exc, input_flag), file=sys.stderr, flush=True)
            return 1
        return 0
    app.run(main)
