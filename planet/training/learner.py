"""The world model's update: the objective's loss, its gradients clipped by their global norm, and Adam
(epsilon 1e-4). `train` and `test` are tf.functions with the data's fixed signature, traced once,
without AutoGraph.
The trainer and scripts/benchmark.py run these same functions.

With a float16 model (precision 16 on a GPU) the optimizer is a dynamic LossScaleOptimizer: the loss is
scaled before the gradients and the gradients unscaled before clipping; a step whose gradients overflow
is skipped (and the scale lowered), and reports a gradient norm of 0.
"""

import tensorflow as tf
import tf_keras as keras

from planet.tools import precision
from planet.training import objective


class Learner(tf.Module):

  def __init__(self, model, objective_config, learning_rate=1e-3, clipping=1000.0, jit_compile=False,
               name='learner'):
    super().__init__(name=name)
    self.model = model
    self.objective = objective_config
    self.learning_rate = learning_rate
    self.clipping = clipping
    self.jit_compile = jit_compile
    self.optimizer = keras.optimizers.Adam(learning_rate, epsilon=1e-4)
    self.loss_scaling = precision.loss_scaling(getattr(model, 'compute_dtype', 'float32'))
    if self.loss_scaling:
      self.optimizer = keras.mixed_precision.LossScaleOptimizer(self.optimizer)
    self.optimizer.build(model.trainable_variables)
    self._functions = None

  def compile(self, spec):
    """Makes the train and test tf.functions for batches of `spec` (a dict of tf.TensorSpec)."""
    # Without AutoGraph: the model code writes its loops with tf.scan/tf.while_loop, and converting it
    # and TFP's code doubled the time to trace the train step (about 10 s instead of 5 s in a debug run on
    # a 2-core CPU). A model that needs Python control flow on tensors fails at its first trace, with
    # TensorFlow's message naming the line.
    make = lambda fn: tf.function(fn, input_signature=[spec], jit_compile=self.jit_compile,
                                  autograph=False)
    self._functions = {'train': make(self._train), 'test': make(self._test)}

  def functions(self):
    return self._functions

  def train(self, data):
    """One update; returns the loss, the gradient norm (before clipping) and the raw objectives."""
    return self._functions['train'](data)

  def test(self, data):
    """The same metrics on held-out data, without an update (gradient norm 0)."""
    return self._functions['test'](data)

  def _train(self, data):
    with tf.GradientTape() as tape:
      loss, objectives = objective.compute(self.model, data, self.objective)
      scaled = self.optimizer.get_scaled_loss(loss) if self.loss_scaling else loss
    variables = self.model.trainable_variables
    grads = tape.gradient(scaled, variables)
    if self.loss_scaling:
      grads = self.optimizer.get_unscaled_gradients(grads)
    norm = tf.linalg.global_norm(grads)
    clipped, _ = tf.clip_by_global_norm(grads, self.clipping, norm)
    self.optimizer.apply_gradients([(g, v) for g, v in zip(clipped, variables) if g is not None])
    if self.loss_scaling:  # An overflow step is skipped, not a failure.
      norm = tf.where(tf.math.is_finite(norm), norm, tf.zeros_like(norm))
    return {'loss': loss, 'grad_norm': norm, **objectives}

  def _test(self, data):
    loss, objectives = objective.compute(self.model, data, self.objective)
    return {'loss': loss, 'grad_norm': tf.constant(0.0), **objectives}
