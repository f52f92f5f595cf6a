"""Latent overshooting: open-loop priors 1..K+1 steps ahead of every posterior, laid out as
[B, T, K+1, ...], with an explicit mask of the valid entries.

Entry [b, t, d] of `prior` is the (d+1)-step open-loop prediction of time t + d from the posterior at
t - 1 (a zero state for t = 0), using the actions prev_action[b, t..t+d]; `posterior` and `target` hold
their values at t + d; `mask` says t + d < length[b]. Invalid entries are zero.
"""

import tensorflow as tf


def _expand(mask, x):
  return tf.reshape(tf.cast(mask, x.dtype), tf.concat([tf.shape(mask), tf.ones(
      [x.shape.rank - mask.shape.rank], tf.int32)], 0))


def _apply_mask(structure, mask):
  return tf.nest.map_structure(lambda x: x * _expand(mask, x), structure)


def _shifts(x, amount):
  """[B, T, ...] -> [B, T, amount + 1, ...] with entry [b, t, d] = x[b, t + d], zero beyond T."""
  length = x.shape[1]
  padding = tf.zeros_like(x[:, :amount])
  padded = tf.concat([x, padding], 1)
  return tf.stack([padded[:, d: d + length] for d in range(amount + 1)], 2)


def _merge(x):
  """[B, T, ...] -> [B * T, ...]"""
  return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))


def overshooting(cell, target, embedded, prev_action, length, amount, posterior=None):
  """Returns (target, prior, posterior, mask), each [B, T, amount + 1, ...]."""
  first_action = tf.nest.flatten(prev_action)[0]
  batch, steps = tf.shape(first_action)[0], first_action.shape[1]
  sequence_mask = tf.sequence_mask(length, steps)
  if posterior is None:
    posterior, _ = cell.observe(embedded, prev_action)
  posterior = _apply_mask(posterior, sequence_mask)
  target = _apply_mask(target, sequence_mask)
  shift = lambda structure: tf.nest.map_structure(lambda x: _shifts(x, amount), structure)
  mask = _shifts(sequence_mask, amount)
  actions = _apply_mask(shift(prev_action), mask)
  # The rollout of row (b, t) starts from the posterior at t - 1: shift the posteriors right by one.
  start = tf.nest.map_structure(
      lambda x: tf.concat([tf.zeros_like(x[:, :1]), x[:, :-1]], 1), posterior)
  prior = cell.imagine(tf.nest.map_structure(_merge, actions), tf.nest.map_structure(_merge, start))
  prior = tf.nest.map_structure(
      lambda x: tf.reshape(x, tf.concat([[batch, steps], tf.shape(x)[1:]], 0)), prior)
  prior = _apply_mask(prior, mask)
  return _apply_mask(shift(target), mask), prior, _apply_mask(shift(posterior), mask), mask
