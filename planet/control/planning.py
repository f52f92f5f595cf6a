"""The cross-entropy method in latent space.

Each state of a batch of Bo agents gets `amount` candidate action sequences of length `horizon`; they are
rolled out open loop with the prior, scored by the objective, and the belief over action sequences is
refit to the `topk` best, `iterations` times. Candidates are laid out agent-major (row b * amount + a)
for the states and the actions alike, so several agents plan correctly in one call (the original mixes
them up).
"""

import tensorflow as tf


def reward_objective(model, states):
  """Sum over the horizon of the reward head's mean (no discount): [N, H, ...] states -> [N]."""
  return tf.reduce_sum(model.reward(model.cell.features(states)).mean(), 1)


def one_hot_argmax(actions):
  """Scores [..., n] -> the one-hot of their argmax: the action a Discrete env executes, as the model
  sees it (control/wrappers.OneHotActions)."""
  return tf.one_hot(tf.argmax(actions, -1), actions.shape[-1], dtype=actions.dtype)


def cem(model, state, action_size, horizon=12, amount=1000, topk=100, iterations=10,
        min_action=-1.0, max_action=1.0, objective=reward_objective, action_transform=None):
  """Returns the final mean [Bo, horizon, A] of the action-sequence belief for each agent. With an
  `action_transform`, the model imagines each candidate's transform (for Discrete actions the one-hot
  of its argmax) while the belief stays over the continuous candidates."""
  batch = state['sample'].shape[0] or tf.shape(state['sample'])[0]
  mean = tf.zeros([batch, horizon, action_size])
  stddev = tf.ones([batch, horizon, action_size])
  if iterations < 1:
    return mean
  tiled = tf.nest.map_structure(lambda x: tf.repeat(x, amount, axis=0), state)
  for _ in tf.range(iterations):
    noise = tf.random.normal([batch, amount, horizon, action_size])
    actions = tf.clip_by_value(
        mean[:, None] + stddev[:, None] * noise, min_action, max_action)
    flat = tf.reshape(actions, [batch * amount, horizon, action_size])
    if action_transform is not None:
      flat = action_transform(flat)
    returns = tf.reshape(objective(model, model.cell.imagine(flat, tiled)), [batch, amount])
    _, indices = tf.math.top_k(returns, topk, sorted=False)
    elites = tf.gather(actions, indices, batch_dims=1)
    mean, variance = tf.nn.moments(elites, 1)
    stddev = tf.sqrt(variance + 1e-6)
  return mean
