"""What a run did: step history, timing, overflow and metrics, summarised as one dict.

Steps come from `global_step` (see common/hooks.py): with a device loop one `session.run` is
`iterations_per_loop` steps. ms/step and throughput exclude the first `skip_steps` steps of the
run, which include graph construction, grappler rewrites (mixed precision, XLA) and cold caches;
a run too short for that keeps at least half its steps timed and says so (`timing_note`).
The JSON is written by common/atomic_io (temp name, then rename).
"""
import contextlib
import time

from common import atomic_io


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


class RunRecorder:
    """Collects what a run did and writes the results JSON.

    Args:
      network: model name (Bert_base, Albert, XLNet, ResNext50).
      task: what was trained (MRPC, pretraining, ImageNet, ...).
      batch_size: examples per step per device.
      unit: throughput unit for the Final block ("sentences/sec" or "images/sec").
      runtime: the npu_runconfig.Runtime (device, precision, iterations_per_loop, ranks).
      skip_steps: steps excluded from timing.
    """

    def __init__(self, network, task, batch_size, unit="sentences/sec", runtime=None,
                 skip_steps=5):
        self.network = network
        self.task = task
        self.batch_size = batch_size
        self.unit = unit
        self.runtime = runtime
        self.skip_steps = skip_steps
        self.step_times = []   # [(step, seconds)]
        self.losses = []       # [(step, loss)] every step
        self.logged = []       # [(step, loss)] printed steps
        self.metrics = {}
        self.precision_metric = None
        self.baseline = None        # a non-neural reference on the same dev set (set_baseline)
        self.durations = {}
        self.runs = 0               # session.run calls that trained
        self.overflow_steps = []    # steps whose update loss scaling skipped
        self.dumper = None          # common.tensor_dump.TensorDumper when dumps were asked

    # -- collection ------------------------------------------------------------------------------
    def hook(self, loss, tensors=None, line_format=None):
        """The step-line hook feeding this recorder (common.hooks.recorder_hook); put it in
        EstimatorSpec(training_hooks=[...])."""
        from common.hooks import recorder_hook  # TensorFlow only where a hook is built
        return recorder_hook(self, loss, tensors, line_format)

    @property
    def log_every(self):
        return self.runtime.iterations_per_loop if self.runtime else 1

    def on_run(self, first_step, last_step, loss, seconds, overflow=False):
        """One session.run that executed steps first_step..last_step (a device loop when > 1)."""
        steps = last_step - first_step + 1
        self.runs += 1
        for step in range(first_step, last_step + 1):
            self.step_times.append((step, seconds / steps))
        self.losses.append((last_step, loss))
        if overflow:
            self.overflow_steps.append(last_step)

    def on_log(self, record):
        self.logged.append((record["step"], record["loss"]))

    @contextlib.contextmanager
    def timed(self, name):
        start = time.time()
        try:
            yield
        finally:
            self.durations[name] = self.durations.get(name, 0.0) + time.time() - start

    def set_metrics(self, metrics, precision=None):
        """metrics: dict name -> number; precision: (name, value) for the Final Precision line."""
        for key, value in (metrics or {}).items():
            if key == "global_step":
                continue
            self.metrics[key] = _jsonable(value)
        if precision is not None:
            self.precision_metric = {"name": precision[0], "value": _jsonable(precision[1])}

    def set_baseline(self, name, value, method):
        """A simple reference scored on the same dev set, printed beside Final Precision."""
        self.baseline = {"name": name, "value": _jsonable(value), "method": method}

    # -- summary ---------------------------------------------------------------------------------
    def timing(self):
        """(ms_per_step, steps_skipped) over the steps after the skipped ones; None if no steps."""
        if not self.step_times:
            return None, 0
        skip = min(self.skip_steps, len(self.step_times) // 2)
        # a step whose tensors were written to disk (--data_dump_step) measures the dump
        dumped = set(self.dumper.dumped_steps) if self.dumper else set()
        kept = [s for step, s in self.step_times[skip:] if step not in dumped] or \
            [s for _, s in self.step_times[skip:]]
        return 1000.0 * sum(kept) / len(kept), skip

    def timing_note(self):
        """A sentence when fewer steps were excluded from timing than asked, else None."""
        ms, skipped = self.timing()
        if ms is None or skipped >= self.skip_steps:
            return None
        return ("only %d steps ran: ms/step is the mean of the last %d, excluding %d instead of "
                "the %d warm-up steps asked (--timing_skip_steps); cold and warm steps are mixed"
                % (len(self.step_times), len(self.step_times) - skipped, skipped, self.skip_steps))

    def summary(self):
        ms_per_step, skipped = self.timing()
        rank_size = self.runtime.rank_size if self.runtime else 1
        throughput = (self.batch_size * rank_size * 1000.0 / ms_per_step) if ms_per_step else None
        return {
            "network": self.network,
            "task": self.task,
            "batch_size": self.batch_size,
            "rank_size": rank_size,
            "global_batch_size": self.batch_size * rank_size,
            "device": self.runtime.device if self.runtime else None,
            "precision": self.runtime.precision if self.runtime else None,
            "precision_mode": self.runtime.precision_mode if self.runtime else None,
            "global_step": self.losses[-1][0] + 1 if self.losses else None,
            "first_step": self.step_times[0][0] if self.step_times else None,
            "steps_run": len(self.step_times),
            "session_runs": self.runs,
            "log_every": self.log_every,
            "throughput": throughput,
            "throughput_unit": self.unit,
            "ms_per_step": ms_per_step,
            "timing_skipped_steps": skipped,
            "timed_steps": len(self.step_times) - skipped,
            "timing_note": self.timing_note(),
            "overflow_steps": len(self.overflow_steps),
            "overflow_steps_timed": sum(1 for s in self.overflow_steps
                                        if self.step_times and s >= self.step_times[skipped][0]),
            "final_loss": self.losses[-1][1] if self.losses else None,
            "metrics": self.metrics,
            "precision_metric": self.precision_metric,
            "baseline": self.baseline,
            "durations_sec": self.durations,
            "loss_history": [[s, l] for s, l in self.logged],
            "loss_every_step": [[s, l] for s, l in self.losses],
            "step_time_ms": [[s, round(1000.0 * t, 3)] for s, t in self.step_times],
            "fingerprint": self.fingerprint(),
            "tensor_dumps": self.dumper.summary() if self.dumper else None,
            "notes": self.notes(),
        }

    def notes(self):
        """Sentences for the Final block (common/report.py prints each as `note: ...`)."""
        notes = []
        if self.dumper and self.dumper.over_dump:
            found = self.dumper.overflows
            if found:
                first = found[0]
                notes.append("over_dump: %d step(s) with NaN/Inf; the first at step %d arose at "
                             "%s:%d (%s); dumps in over_dump/ of the output folder" % (
                                 len(found), first["step"], first["op"], first["slot"],
                                 first["op_type"] or "?"))
            else:
                notes.append("over_dump: no step had a NaN/Inf tensor")
        if self.dumper and self.dumper.dumped:
            notes.append("data_dump: step(s) %s dumped in data_dump/ of the output folder; "
                         "ms/step leaves them out" % ", ".join(str(s) for s in self.dumper.dumped_steps))
        if self.dumper and self.dumper.over_dump:
            notes.append("over_dump: every step ran under the debugger's watch: ms/step is not a "
                         "performance figure")
        return notes

    def fingerprint(self):
        """What decides a comparison with another run (common/fingerprint.py); None without a
        runtime (unit tests of the recorder itself)."""
        if self.runtime is None:
            return None
        from common import fingerprint
        return fingerprint.collect(self.runtime)

    def write(self, path):
        atomic_io.write_json(path, self.summary())
        print("results: %s" % path, flush=True)
        return path
