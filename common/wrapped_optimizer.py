"""The base of the fallback's optimizer wrappers (loss scaling, the distributed all-reduce): slots
and variables are those of the wrapped optimizer, so checkpoints keep the inner optimizer's names."""
import tensorflow.compat.v1 as tf


class WrappedOptimizer(tf.train.Optimizer):
    """Holds the inner optimizer as `self._opt`; subclasses override the gradient methods."""

    def __init__(self, opt, name):
        super().__init__(use_locking=False, name=name)
        self._opt = opt

    def get_slot(self, var, name):
        return self._opt.get_slot(var, name)

    def get_slot_names(self):
        return self._opt.get_slot_names()

    def variables(self):
        return self._opt.variables()
