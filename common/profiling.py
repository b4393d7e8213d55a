"""--profiling off Ascend: Chrome-trace timelines of a few steps and the input-wait split.

On Ascend the same flag turns on ProfilingConfig (common/npu_runconfig.py). Elsewhere the step hook
asks this tracer which session.run to trace (RunOptions FULL_TRACE); each traced step becomes
<output>/profiling/timeline-<step>.json (open in chrome://tracing or Perfetto), and the end of the
run prints one line: the mean traced step time and how much of it was spent waiting for input
(IteratorGetNext), i.e. how input-bound the run is.
"""
import os

import tensorflow.compat.v1 as tf
from tensorflow.python.client import timeline  # the Chrome-trace writer of both TF 1.15 and 2.x

from common import atomic_io

INPUT_OPS = ("IteratorGetNext",)


def step_split_ms(step_stats):
    """(step wall time ms, input wait ms) of one traced step's StepStats."""
    start, end, input_us = None, None, 0
    for device in step_stats.dev_stats:
        for node in device.node_stats:
            node_start = node.all_start_micros
            node_end = node_start + max(node.op_end_rel_micros, node.all_end_rel_micros)
            start = node_start if start is None else min(start, node_start)
            end = node_end if end is None else max(end, node_end)
            if any(op in node.node_name or op in node.timeline_label for op in INPUT_OPS):
                input_us += node_end - node_start
    if start is None:
        return 0.0, 0.0
    return (end - start) / 1000.0, input_us / 1000.0


class StepTracer:
    """Traces `num_steps` consecutive steps, starting `skip_steps` after the run's first step."""

    def __init__(self, output_dir, skip_steps=5, num_steps=3):
        self.output_dir = output_dir
        self.skip_steps = skip_steps
        self.num_steps = num_steps
        self._first_traced = None
        self.splits = []     # [(step, wall ms, input ms)]

    def run_options(self, step):
        """RunOptions for the session.run that starts at `step`, or None (no trace)."""
        if self._first_traced is None:
            self._first_traced = step + self.skip_steps
        if self._first_traced <= step < self._first_traced + self.num_steps:
            return tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        return None

    def collect(self, step, run_metadata):
        if run_metadata is None or not run_metadata.step_stats.dev_stats:
            return
        os.makedirs(self.output_dir, exist_ok=True)
        trace = timeline.Timeline(run_metadata.step_stats).generate_chrome_trace_format()
        atomic_io.write_text(os.path.join(self.output_dir, "timeline-%d.json" % step), trace)
        self.splits.append((step,) + step_split_ms(run_metadata.step_stats))

    def summary(self):
        if not self.splits:
            return "profiling: no step was traced (the run ended before step %s)" % self._first_traced
        wall = sum(w for _, w, _ in self.splits) / len(self.splits)
        wait = sum(i for _, _, i in self.splits) / len(self.splits)
        return ("profiling: %d steps traced (timeline-<step>.json in %s): %.2f ms per step, of which "
                "input wait %.2f ms (%.1f%%) and compute %.2f ms"
                % (len(self.splits), self.output_dir, wall, wait, 100.0 * wait / wall if wall else 0.0,
                   wall - wait))
