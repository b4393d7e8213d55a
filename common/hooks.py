"""The step-line hook: one parseable line per logged step, every step's time and loss recorded.

Default line (fields as available):
    step = 100, loss = 2.345678, lr = 1.000000e-04, loss_scale = 1024, examples/sec = 123.45
Step numbers are the step being executed (0-based, as Estimator's own `loss = X, step = N`).
"""
import os
import time

import tensorflow.compat.v1 as tf


_STANDARD_FIELDS = ("step", "loss", "lr", "loss_scale", "overflow", "examples_per_sec")


def default_line(record):
    """`step = N, loss = X[, <extra> = X ...][, lr = X][, loss_scale = X][, examples/sec = X]`.

    Extra scalars a model logs (e.g. BERT's mlm_loss and nsp_loss) follow the loss, in the order
    they were given.
    """
    parts = ["step = %d" % record["step"], "loss = %.6f" % record["loss"]]
    parts.extend("%s = %.6f" % (key, value) for key, value in record.items()
                 if key not in _STANDARD_FIELDS)
    if "lr" in record:
        parts.append("lr = %.6e" % record["lr"])
    if "loss_scale" in record:
        parts.append("loss_scale = %g" % record["loss_scale"])
    if record.get("overflow"):
        parts.append("overflow = 1")
    if record.get("examples_per_sec") is not None:
        parts.append("examples/sec = %.2f" % record["examples_per_sec"])
    return ", ".join(parts)


class StepLoggerHook(tf.train.SessionRunHook):
    """Fetches the loss and extra scalars every `session.run`; prints a line every `every_n` steps.

    Steps are counted from `global_step`, never from `session.run` calls: on Ascend one
    `session.run` executes a whole device loop of `iterations_per_loop` steps, and `global_step`
    advances by that many. A run that executed steps [first, last] reports its fetched values (those
    of the loop's last step) as step `last`, and its wall time split evenly over the loop's steps.

    Args:
      loss: scalar loss tensor.
      tensors: dict name -> scalar tensor (lr, loss_scale, overflow, ...), printed when present.
      batch_size: examples per step on this device (for examples/sec).
      every_n: print cadence in steps (iterations_per_loop); the last step is always printed.
      on_step: callback(first_step, last_step, loss, seconds, overflow) for every session.run.
      on_log: callback(record) for every printed step.
      line_format: callable(record) -> str; default `default_line`.
      tracer: a common.profiling.StepTracer (--profiling off Ascend) or None.
      dumper: a common.tensor_dump.TensorDumper (--data_dump_flag / --over_dump off Ascend) or None.
    """

    def __init__(self, loss, tensors=None, batch_size=1, every_n=1, on_step=None, on_log=None,
                 line_format=None, tracer=None, dumper=None):
        self._tracer = tracer   # common.profiling.StepTracer under --profiling, else None
        self._dumper = dumper
        self._fetches = {"loss": loss}
        self._fetches.update({k: v for k, v in (tensors or {}).items() if v is not None})
        self._batch_size = batch_size
        self._every_n = max(1, int(every_n))
        self._on_step = on_step
        self._on_log = on_log
        self._format = line_format or default_line

    def begin(self):
        self._global_step = tf.train.get_global_step()
        if self._global_step is None:
            raise RuntimeError("StepLoggerHook needs a global step")

    def after_create_session(self, session, coord):
        del coord
        self._next_step = int(session.run(self._global_step))
        self._last_logged = None
        self._pending = None
        self._window_start = time.time()
        self._window_steps = 0

    def before_run(self, run_context):
        options = self._tracer.run_options(self._next_step) if self._tracer else None
        if self._dumper:
            watch = self._dumper.run_options(self._next_step, run_context.session.graph)
            if watch is not None and options is not None:
                options.MergeFrom(watch)
            elif watch is not None:
                options = watch
        self._t0 = time.time()
        return tf.train.SessionRunArgs(self._fetches, options=options)

    def after_run(self, run_context, run_values):
        now = time.time()
        # Read after the run: the value the train op left, however many steps it ran.
        step_after = int(run_context.session.run(self._global_step))
        first, last = self._next_step, step_after - 1
        if last < first:      # the run advanced no step (nothing trained): nothing to account
            return
        if self._tracer:
            self._tracer.collect(first, run_values.run_metadata)
        if self._dumper:
            overflow = run_values.results.get("overflow")
            self._dumper.collect(first, None if overflow is None else bool(overflow))
        self._next_step = step_after
        values = run_values.results
        self._window_steps += last - first + 1
        if self._on_step:
            self._on_step(first, last, float(values["loss"]), now - self._t0,
                          bool(values.get("overflow", False)))
        # Log when the run reached a multiple of every_n (with one step per run: step % n == 0).
        if last // self._every_n > (first - 1) // self._every_n:
            self._log(last, values, now)
        else:
            self._pending = (last, values, now)

    def _log(self, step, values, now):
        elapsed = now - self._window_start
        record = {k: (bool(v) if k == "overflow" else float(v)) for k, v in values.items()}
        record["step"] = step
        record["examples_per_sec"] = (self._batch_size * self._window_steps / elapsed
                                      if elapsed > 0 else None)
        print(self._format(record), flush=True)
        if self._on_log:
            self._on_log(record)
        self._last_logged = step
        self._pending = None
        self._window_start = now
        self._window_steps = 0

    def end(self, session):
        del session
        if self._pending and self._pending[0] != self._last_logged:
            self._log(*self._pending)
        if self._tracer:
            print(self._tracer.summary(), flush=True)


def recorder_hook(recorder, loss, tensors=None, line_format=None):
    """A StepLoggerHook that feeds a results.RunRecorder, printing every iterations_per_loop,
    tracing a few steps under --profiling and dumping tensors under --data_dump_flag / --over_dump
    (off Ascend; Ascend profiles and dumps through its own config)."""
    runtime = recorder.runtime
    tracer = None
    if runtime is not None and getattr(runtime, "profiling", False) and runtime.device != "npu":
        from common.profiling import StepTracer
        tracer = StepTracer(os.path.join(runtime.model_dir, "profiling"), recorder.skip_steps)
    dumper = None
    data_dump = getattr(runtime, "data_dump", False)
    over_dump = getattr(runtime, "over_dump", False)
    if runtime is not None and (data_dump or over_dump) and runtime.device != "npu":
        from common.tensor_dump import TensorDumper
        dumper = TensorDumper(runtime.model_dir, runtime.dump_steps if data_dump else (),
                              runtime.dump_mode, runtime.dump_filter, over_dump, runtime.precision)
        recorder.dumper = dumper
    return StepLoggerHook(loss, tensors, batch_size=recorder.batch_size, every_n=recorder.log_every,
                          on_step=recorder.on_run, on_log=recorder.on_log, line_format=line_format,
                          tracer=tracer, dumper=dumper)
