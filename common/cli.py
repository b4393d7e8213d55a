"""The entry-point wrapper: absl flags, then user errors as one `error: ...` line and exit 1.

    if __name__ == "__main__":
        cli.run_entry_point(run, input_flag="data_dir")

A user error is a bad flag or file (UsageError, ValueError, OSError, the model's own
error types) or bad input data found while running (TensorFlow's InvalidArgumentError and
DataLossError, e.g. a corrupt TFRecord or image). A kernel the platform lacks is said to be
that, not bad data. Set MODELZOO_TRACEBACK=1 to get the traceback.
"""
import logging
import os
import re
import sys

import tensorflow.compat.v1 as tf
from absl import app, flags

from common.npu_runconfig import UsageError

USER_ERRORS = (UsageError, ValueError, OSError)  # OSError: missing/unreadable/unwritable files
DATA_ERRORS = (tf.errors.InvalidArgumentError, tf.errors.DataLossError)
# A kernel this TensorFlow/CPU lacks is the platform's limit, never the user's data: TensorFlow
# raises Unimplemented, or InvalidArgument with wording like this (grouped conv on Eigen's CPU).
PLATFORM_MESSAGE = re.compile(r"not supported on (CPU|GPU)|does not support|no (registered )?"
                              r"OpKernel|not (yet )?implemented", re.IGNORECASE)


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


def is_platform_error(exc):
    return isinstance(exc, tf.errors.UnimplementedError) or (
        isinstance(exc, tf.errors.OpError) and bool(PLATFORM_MESSAGE.search(exc.message or "")))


def error_line(exc, input_flag=None):
    if is_platform_error(exc):
        return ("this TensorFlow build cannot run the model on this device (a platform limit, "
                "not your data): %s" % op_error_line(exc))
    if isinstance(exc, DATA_ERRORS):
        where = " under --%s=%s" % (input_flag, flags.FLAGS[input_flag].value) if input_flag else ""
        return "bad input data%s: %s" % (where, op_error_line(exc))
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class _DropDeprecationNotices(logging.Filter):
    """TensorFlow's 'X is deprecated and will be removed' notices concern the TF 1.x API this
    project uses on purpose (the Ascend stack is TF 1.15); they bury the run's own lines."""

    def filter(self, record):
        message = str(record.msg)
        return "is deprecated and will be removed" not in message and \
            "Instructions for updating" not in message


def quiet_tensorflow_logging():
    """One copy of each TensorFlow log line (its own handler; not absl's too) and no deprecation
    notices. INFO lines such as Estimator's `global_step/sec` stay: Ascend's tooling reads them."""
    logger = tf.get_logger()
    logger.propagate = False
    if not any(isinstance(f, _DropDeprecationNotices) for f in logger.filters):
        logger.addFilter(_DropDeprecationNotices())


def run_entry_point(run, input_flag=None, user_errors=()):
    """app.run(run) with one-line errors. `run` takes no arguments; positional args are refused."""
    def main(argv):
        quiet_tensorflow_logging()
        if len(argv) > 1:
            print("error: unexpected arguments %s (flags are --key=value)" % " ".join(argv[1:]),
                  file=sys.stderr)
            return 1
        try:
            run()
        except USER_ERRORS + DATA_ERRORS + (tf.errors.UnimplementedError,) + tuple(user_errors) \
                as exc:
            if os.environ.get("MODELZOO_TRACEBACK") == "1":
                raise
            print("error: %s" % error_line(exc, input_flag), file=sys.stderr, flush=True)
            return 1
        return 0
    app.run(main)
