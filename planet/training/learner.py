"""The world model's update: the objective's loss, its gradients clipped by their global norm, and Adam
(epsilon 1e-4). `train` and `test` are tf.functions with the data's fixed signature: each traces once.
The trainer and scripts/benchmark.py run these same functions."""

import tensorflow as tf
import tf_keras as keras

from planet.training import objective


class Learner(tf.Module):

  def __init__(self, model, objective_config, learning_rate=1e-3, clipping=1000.0, name='learner'):
    super().__init__(name=name)
    self.model = model
    self.objective = objective_config
    self.clipping = clipping
    self.optimizer = keras.optimizers.Adam(learning_rate, epsilon=1e-4)
    self.optimizer.build(model.trainable_variables)
    self._functions = None

  def compile(self, spec):
    """Makes the train and test tf.functions for batches of `spec` (a dict of tf.TensorSpec)."""
    self._functions = {
        'train': tf.function(self._train, input_signature=[spec]),
        'test': tf.function(self._test, input_signature=[spec]),
    }

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
    variables = self.model.trainable_variables
    grads = tape.gradient(loss, variables)
    norm = tf.linalg.global_norm(grads)
    clipped, _ = tf.clip_by_global_norm(grads, self.clipping, norm)
    self.optimizer.apply_gradients([(g, v) for g, v in zip(clipped, variables) if g is not None])
    return {'loss': loss, 'grad_norm': norm, **objectives}

  def _test(self, data):
    loss, objectives = objective.compute(self.model, data, self.objective)
    return {'loss': loss, 'grad_norm': tf.constant(0.0), **objectives}
