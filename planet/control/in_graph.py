"""A whole episode in one compiled loop: filter, plan, add noise and step the environments inside a
`tf.function`, the environments called through `tf.numpy_function` (on the simulation's env thread).

The Python loop in simulate.Simulation calls the agent's compiled policy once per step instead. Both
share the stop condition (`running`) and the result, and give the same episodes; `scripts/benchmark.py` measures
which is faster (see `simulate_in_graph`).
"""

import numpy as np
import tensorflow as tf


def running(step, done, max_length):
  """The one stop condition of both episode loops (this one and simulate.Simulation's Python loop):
  below the length and some env not done."""
  return tf.logical_and(step < max_length, tf.logical_not(tf.reduce_all(done)))


class InGraphEpisode:
  """Plays one episode in each env of `simulation` with `agent`, compiled once per simulation."""

  def __init__(self, simulation, agent, max_length):
    self._simulation = simulation
    self._agent = agent
    self._max_length = max_length
    self._size = simulation.batch_size
    self._spec = agent.observation_spec
    self._keys = tuple(self._spec)
    self.run_graph = tf.function(self._run, autograph=False, input_signature=[
        tf.TensorSpec([], tf.float32), tf.TensorSpec([self._size], tf.int64)])

  def _reset(self, seeds):
    seeds = None if seeds[0] < 0 else [int(s) for s in seeds]
    observations, done = self._simulation.call(
        self._simulation.env.reset_observations, self._keys, seeds)
    return [observations[key] for key in self._keys] + [done]

  def _step(self, actions, done, *observations):
    observations, rewards, ends = self._simulation.call(
        self._simulation.env.step_observations, self._keys, actions, done,
        dict(zip(self._keys, observations)))
    return [observations[key] for key in self._keys] + [rewards, ends]

  def _observations(self, tensors):
    """Gives the observation tensors of `tf.numpy_function` their static shapes."""
    for key, tensor in zip(self._keys, tensors):
      tensor.set_shape(self._spec[key].shape)
    return dict(zip(self._keys, tensors))

  def _run(self, noise_scale, seeds):
    size = self._size
    dtypes = [self._spec[key].dtype for key in self._keys]
    # `done` comes from the reset so that the first step depends on it: the actions alone need not
    # (with zero planner iterations they do not depend on the observations at all).
    *observations, done = tf.numpy_function(
        self._reset, [seeds], dtypes + [tf.bool], stateful=True)
    observations = self._observations(observations)
    done.set_shape([size])
    self._agent.begin_episode()

    def body(step, observations, scores, lengths, done):
      action = self._agent.act(observations, noise_scale)
      *observations_, rewards, ends = tf.numpy_function(
          self._step, [action, done] + [observations[key] for key in self._keys],
          dtypes + [tf.float32, tf.bool], stateful=True)
      rewards.set_shape([size])
      ends.set_shape([size])
      lengths += tf.cast(~done, tf.int32)
      return step + 1, self._observations(observations_), scores + rewards, lengths, ends

    def cond(step, observations, scores, lengths, done):
      return running(step, done, self._max_length)

    initial = (tf.constant(0), observations, tf.zeros([size]), tf.zeros([size], tf.int32), done)
    _, _, scores, lengths, _ = tf.while_loop(cond, body, initial, parallel_iterations=1)
    return scores, lengths

  def run(self, noise_scale, seeds=None):
    seeds = np.full(self._size, -1, np.int64) if seeds is None else np.asarray(seeds, np.int64)
    scores, lengths = self.run_graph(np.float32(noise_scale), seeds)
    return scores.numpy(), lengths.numpy()
