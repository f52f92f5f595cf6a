"""A whole episode in one compiled loop (the TF2 counterpart of the original's in-graph batch env and
simulate loop, spec 6.3): filter, plan, add noise and step the environments inside a `tf.function`,
the environments called through `tf.numpy_function`.

The Python loop in simulate.Simulation calls the agent's compiled policy once per step instead. Both
give the same episodes; `scripts/benchmark.py` measures which is faster (see `simulate_in_graph`).
"""

import concurrent.futures

import numpy as np
import tensorflow as tf


class InGraphEpisode:
  """Plays one episode in each env of `batch_env` with `agent`, compiled once per agent and batch."""

  def __init__(self, batch_env, agent, max_length):
    self._env = batch_env
    self._agent = agent
    self._max_length = max_length
    self._size = len(batch_env)
    self._images = None
    # tf.numpy_function runs on whichever TF thread is free, but a rendering context (EGL) belongs to
    # the thread that made it current: every env call goes through this one thread.
    self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='in_graph_env')
    self.run_graph = tf.function(self._run, input_signature=[tf.TensorSpec([], tf.float32)])

  def _on_thread(self, fn, *args):
    return self._thread.submit(fn, *args).result()

  def _reset(self):
    return self._on_thread(self._reset_envs)

  def _reset_envs(self):
    self._images = self._env.reset_images()
    return self._images, np.zeros(self._size, bool)

  def _step(self, actions, done):
    return self._on_thread(self._step_envs, actions, done)

  def close(self):
    """Closes the envs on the thread that used them."""
    self._on_thread(self._env.close)
    self._thread.shutdown()

  def _step_envs(self, actions, done):
    rewards, ends = self._env.step_images(actions, done, self._images)
    return self._images.copy(), rewards, ends

  def _run(self, noise_scale):
    size = self._size
    # `done` comes from the reset so that the first step depends on it: the actions alone need not
    # (with zero planner iterations they do not depend on the images at all).
    images, done = tf.numpy_function(self._reset, [], [tf.uint8, tf.bool], stateful=True)
    images.set_shape([size, 64, 64, 3])
    done.set_shape([size])
    self._agent.begin_episode()
    scores = tf.zeros([size], tf.float32)
    lengths = tf.zeros([size], tf.int32)

    def body(step, images, scores, lengths, done):
      action = self._agent.act(images, noise_scale)
      images, rewards, ends = tf.numpy_function(
          self._step, [action, done], [tf.uint8, tf.float32, tf.bool], stateful=True)
      images.set_shape([size, 64, 64, 3])
      rewards.set_shape([size])
      ends.set_shape([size])
      lengths += tf.cast(~done, tf.int32)
      return step + 1, images, scores + rewards, lengths, ends

    def cond(step, images, scores, lengths, done):
      return tf.logical_and(step < self._max_length, ~tf.reduce_all(done))

    _, _, scores, lengths, _ = tf.while_loop(
        cond, body, (tf.constant(0), images, scores, lengths, done), parallel_iterations=1)
    return scores, lengths

  def run(self, noise_scale):
    scores, lengths = self.run_graph(np.float32(noise_scale))
    scores = scores.numpy()
    return {'return': float(scores.mean()), 'returns': scores.tolist(),
            'length': int(lengths.numpy().max())}
