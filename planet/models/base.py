"""The cell interface every latent model shares.

A model's state is a dict of [batch, ...] tensors with at least `mean`, `stddev` and `sample`.
Subclasses implement `initial`, `transition` (the prior) and `posterior`; unrolling over time, the
distributions and the KL live here once.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class Base(tf.Module):

  def __init__(self, mean_only=False, min_stddev=0.1, name=None):
    super().__init__(name=name)
    self.mean_only = mean_only
    self.min_stddev = min_stddev

  def initial(self, batch_size):
    """The all-zero state (stddev included, as the original's zero_state)."""
    raise NotImplementedError

  def transition(self, prev_state, prev_action):
    """The prior p(s_t | s_{t-1}, a_{t-1})."""
    raise NotImplementedError

  def posterior(self, prev_state, prev_action, embedding):
    """Returns (posterior q(s_t | s_{t-1}, a_{t-1}, o_t), prior p(s_t | s_{t-1}, a_{t-1}))."""
    raise NotImplementedError

  def features(self, state):
    raise NotImplementedError

  def observe(self, embedding, action, state=None):
    """Closed loop: filters [B, T, E] embeddings and [B, T, A] previous actions.

    `action[:, t]` is the action that led to observation t. Returns (posterior, prior),
    dicts of [B, T, ...] tensors.
    """
    if state is None:
      state = self.initial(tf.shape(tf.nest.flatten(action)[0])[0])

    def step(carry, inputs):
      return self.posterior(carry[0], inputs[1], inputs[0])

    inputs = (_time_major(embedding), _time_major(action))
    post, prior = tf.scan(step, inputs, (state, state))
    return _batch_major(post), _batch_major(prior)

  def imagine(self, action, state):
    """Open loop: the priors after each of the [B, T, A] actions, starting from `state`."""
    prior = tf.scan(self.transition, _time_major(action), state)
    return _batch_major(prior)

  def stochastic(self, h, stats):
    """Mean, softplus stddev + min_stddev (additive, no clamp) and one sample (the mean if mean_only)
    from the hidden activations `h`, with `stats` the two linear layers."""
    mean = stats[0](h)
    stddev = tf.nn.softplus(stats[1](h)) + self.min_stddev
    if self.mean_only:
      sample = mean
    else:
      sample = mean + stddev * tf.random.normal(tf.shape(mean))
    return {'mean': mean, 'stddev': stddev, 'sample': sample}

  def dist(self, state):
    return tfd.MultivariateNormalDiag(state['mean'], state['stddev'])

  def divergence(self, lhs, rhs):
    """KL(lhs || rhs), summed over the latent dimensions: shape [...]."""
    return tfd.kl_divergence(self.dist(lhs), self.dist(rhs))


def _swap(t):
  return tf.transpose(t, [1, 0] + list(range(2, t.shape.rank)))


def _time_major(x):
  return tf.nest.map_structure(_swap, x)


_batch_major = _time_major  # Swapping the two leading axes is its own inverse.
