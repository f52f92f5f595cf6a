"""The original's overshooting test against our implementation, plus the loss's masking."""

import types

import numpy as np
import tensorflow as tf

from planet.models import base
from planet.tools import overshooting
from planet.training import objective


class MockCell(base.Base):
  """State {'obs': [1]}; the prior adds the action to the previous obs, the posterior is the obs."""

  def initial(self, batch_size):
    return {'obs': tf.zeros([batch_size, 1])}

  def transition(self, prev_state, prev_action):
    action = prev_action[0] if isinstance(prev_action, tuple) else prev_action
    return {'obs': prev_state['obs'] + action[:, :1]}

  def posterior(self, prev_state, prev_action, embedding):
    embedding = embedding[0] if isinstance(embedding, tuple) else embedding
    return {'obs': embedding[:, :1]}, self.transition(prev_state, prev_action)


def rows(x, b):
  """[B, T, D+1, 1] -> rows by distance d, columns by t, for batch element b."""
  return np.transpose(np.asarray(x)[b, :, :, 0])


def test_example():
  obs = tf.constant([[10, 20, 30, 40, 50, 60], [70, 80, 0, 0, 0, 0]], tf.float32)[:, :, None]
  prev_action = tf.constant(
      [[0.0, .1, .2, .3, .4, .5], [9.0, .7, 0, 0, 0, 0]], tf.float32)[:, :, None]
  length = tf.constant([6, 2])
  target, prior, posterior, mask = overshooting.overshooting(
      MockCell(), obs, obs, prev_action, length, 3)
  prior, posterior = prior['obs'], posterior['obs']
  assert mask.dtype == tf.bool and mask.shape == (2, 6, 4)
  np.testing.assert_array_equal(np.transpose(mask.numpy()[0]).astype(int), [
      [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
  np.testing.assert_allclose(rows(prior, 0), [
      [0.0, 10.1, 20.2, 30.3, 40.4, 50.5], [0.1, 10.3, 20.5, 30.7, 40.9, 0],
      [0.3, 10.6, 20.9, 31.2, 0, 0], [0.6, 11.0, 21.4, 0, 0, 0]], atol=1e-5)
  np.testing.assert_allclose(rows(posterior, 0), [
      [10, 20, 30, 40, 50, 60], [20, 30, 40, 50, 60, 0], [30, 40, 50, 60, 0, 0],
      [40, 50, 60, 0, 0, 0]])
  np.testing.assert_array_equal(np.transpose(mask.numpy()[1]).astype(int), [
      [1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0] * 6, [0] * 6])
  np.testing.assert_allclose(rows(prior, 1), [
      [9.0, 70.7, 0, 0, 0, 0], [9.7, 0, 0, 0, 0, 0], [0] * 6, [0] * 6], atol=1e-5)
  np.testing.assert_allclose(rows(posterior, 1), [
      [70, 80, 0, 0, 0, 0], [80, 0, 0, 0, 0, 0], [0] * 6, [0] * 6])
  np.testing.assert_allclose(rows(target, 0), rows(posterior, 0))


def test_nested():
  obs = tuple(tf.ones([3, 50, n]) for n in (1, 2, 3))
  prev_action = tuple(tf.ones([3, 50, n]) for n in (1, 2))
  target, prior, posterior, mask = overshooting.overshooting(
      MockCell(), obs, obs, prev_action, tf.constant([49, 50, 3]), 3)
  assert [t.shape for t in target] == [(3, 50, 4, 1), (3, 50, 4, 2), (3, 50, 4, 3)]
  assert prior['obs'].shape == posterior['obs'].shape == (3, 50, 4, 1)
  assert mask.numpy().sum(axis=(1, 2)).tolist() == [
      sum(min(4, 49 - t) for t in range(49)), sum(min(4, 50 - t) for t in range(50)),
      sum(min(4, 3 - t) for t in range(3))]
  # Batch element 2 has 3 steps: with all-ones actions and obs, prior d steps ahead of t is
  # post[t-1] + (d + 1), i.e. (d + 1) at t = 0 and 1 + (d + 1) after.
  np.testing.assert_allclose(prior['obs'].numpy()[2, :3, :, 0], [
      [1, 2, 3, 0], [2, 3, 0, 0], [2, 0, 0, 0]])


class GaussCell(MockCell):
  """A mock with Gaussian states, to check the loss: mean = obs, stddev = 1."""

  def transition(self, prev_state, prev_action):
    mean = prev_state['mean'] + prev_action[:, :1]
    return {'mean': mean, 'stddev': tf.ones_like(mean), 'sample': mean}

  def initial(self, batch_size):
    zeros = tf.zeros([batch_size, 1])
    return {'mean': zeros, 'stddev': tf.ones_like(zeros), 'sample': zeros}

  def posterior(self, prev_state, prev_action, embedding):
    mean = embedding[:, :1]
    return ({'mean': mean, 'stddev': tf.ones_like(mean), 'sample': mean},
            self.transition(prev_state, prev_action))


def _inputs(cell, posterior, action, free_nats, stop_posterior_grad=False):
  """The objective term's arguments: a model holding the cell, the batch, the states, the config."""
  config = types.SimpleNamespace(overshooting_distance=3, free_nats=free_nats,
                                 os_stop_posterior_grad=stop_posterior_grad)
  return types.SimpleNamespace(cell=cell), {'action': action}, {'posterior': posterior}, config


def test_loss_is_finite_masked_and_averaged_over_all_entries():
  cell = GaussCell()
  obs = tf.constant([[1.0, 2.0, 4.0, 8.0]])[:, :, None]
  action = tf.zeros([1, 4, 1])
  posterior, _ = cell.observe(obs, action)
  with tf.GradientTape() as tape:
    tape.watch(posterior['mean'])
    value = objective.overshooting(*_inputs(cell, posterior, action, free_nats=None))
  # Distances d = 1, 2 (2 and 3 steps ahead). The prior from post[t-1] with zero actions keeps its mean:
  # d=1: t=0: 0 vs 2, t=1: 1 vs 4, t=2: 2 vs 8; d=2: t=0: 0 vs 4, t=1: 1 vs 8. KL = (diff^2) / 2.
  expected = (4 + 9 + 36 + 16 + 49) / 2 / (1 * 4 * 2)
  assert abs(float(value) - expected) < 1e-5
  gradient = tape.gradient(value, posterior['mean'])
  assert np.all(np.isfinite(gradient.numpy()))
  with_free_nats = objective.overshooting(*_inputs(cell, posterior, action, free_nats=3.0,
                                                    stop_posterior_grad=True))
  assert abs(float(with_free_nats) - (1.5 + 15 + 5 + 21.5) / 8) < 1e-5
