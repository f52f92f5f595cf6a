"""The cell interface every latent model shares.

A model's state is a dict of [batch, ...] float32 tensors with at least `mean`, `stddev` and `sample`.
Subclasses implement `initial`, `transition` (the prior) and `posterior`; unrolling over time, the
distributions and the KL live here once. A model whose unroll can compute part of its maths outside the
loop writes `observe` and `imagine` instead, and its one-step methods as unrolls of length one, so that
each maths is written once (rssm.py).

Noise: by default every sample draws its own standard normal noise. `noise` arguments feed it instead
(for tests that compare two computations of the same maths): {'posterior': [B, T, S], 'prior':
[B, T, S]} for `observe`, [B, T, S] for `imagine`, and the same without T for one step.
"""

import tensorflow as tf
import tensorflow_probability as tfp

from planet.networks.basic import bias_add

tfd = tfp.distributions


class Base(tf.Module):

  def __init__(self, mean_only=False, min_stddev=0.1, dtype='float32', name=None):
    """`dtype` is the layers' compute dtype (planet/tools/precision.py); states stay float32."""
    super().__init__(name=name)
    self.mean_only = mean_only
    self.min_stddev = min_stddev
    self.compute_dtype = dtype

  def initial(self, batch_size):
    """The all-zero state (stddev included, as the original's zero_state)."""
    raise NotImplementedError

  def transition(self, prev_state, prev_action, noise=None):
    """The prior p(s_t | s_{t-1}, a_{t-1})."""
    raise NotImplementedError

  def posterior(self, prev_state, prev_action, embedding, noise=None):
    """Returns (posterior q(s_t | s_{t-1}, a_{t-1}, o_t), prior p(s_t | s_{t-1}, a_{t-1}))."""
    raise NotImplementedError

  def features(self, state):
    raise NotImplementedError

  def observe(self, embedding, action, state=None, noise=None):
    """Closed loop: filters [B, T, E] embeddings and [B, T, A] previous actions.

    `action[:, t]` is the action that led to observation t. Returns (posterior, prior),
    dicts of [B, T, ...] tensors.
    """
    if state is None:
      state = self.initial(tf.shape(tf.nest.flatten(action)[0])[0])
    inputs = (_time_major(embedding), _time_major(action))
    if noise is None:
      step = lambda carry, inputs: self.posterior(carry[0], inputs[1], inputs[0])
    else:
      inputs += (_time_major(noise),)
      step = lambda carry, inputs: self.posterior(carry[0], inputs[1], inputs[0], inputs[2])
    post, prior = tf.scan(step, inputs, (state, state))
    return _batch_major(post), _batch_major(prior)

  def imagine(self, action, state, noise=None):
    """Open loop: the priors after each of the [B, T, A] actions, starting from `state`."""
    if noise is None:
      prior = tf.scan(self.transition, _time_major(action), state)
    else:
      step = lambda prev, inputs: self.transition(prev, inputs[0], inputs[1])
      prior = tf.scan(step, (_time_major(action), _time_major(noise)), state)
    return _batch_major(prior)

  def stochastic(self, h, stats, noise=None):
    """Mean, softplus stddev + min_stddev (additive, no clamp) and one sample (the mean if mean_only)
    from [..., H] hidden activations, with `stats` the two linear layers of the mean and the stddev
    (float32 layers: the distributions are float32 whatever the compute dtype)."""
    for layer in stats:
      if not layer.built:
        layer.build((None, h.shape[-1]))
    return self.gaussian(h, *stats_weights(stats), noise)

  def gaussian(self, h, kernel, bias, noise=None):
    """`stochastic` with the stats layers given as their concatenated float32 (kernel, bias): one
    matmul on [rows, H] (an unroll reads the weights once, outside its loop)."""
    rows = tf.reshape(tf.cast(h, tf.float32), [-1, h.shape[-1]])
    mean, stddev = tf.split(bias_add(tf.matmul(rows, kernel), bias), 2, -1)
    shape = tf.concat([tf.shape(h)[:-1], [kernel.shape[-1] // 2]], 0)
    mean, stddev = tf.reshape(mean, shape), tf.reshape(stddev, shape)
    stddev = tf.nn.softplus(stddev) + self.min_stddev
    return {'mean': mean, 'stddev': stddev, 'sample': self.sample(mean, stddev, noise)}

  def sample(self, mean, stddev, noise=None):
    if self.mean_only:
      return mean
    if noise is None:
      noise = tf.random.normal(tf.shape(mean))
    return mean + stddev * noise

  def concat(self, *tensors):
    """Concatenates the last axes in the compute dtype."""
    return tf.concat([tf.cast(x, self.compute_dtype) for x in tensors], -1)

  def dist(self, state):
    return tfd.MultivariateNormalDiag(state['mean'], state['stddev'])

  def divergence(self, lhs, rhs):
    """KL(lhs || rhs), summed over the latent dimensions: shape [...]."""
    return tfd.kl_divergence(self.dist(lhs), self.dist(rhs))


def stats_weights(layers):
  """The two stats layers' kernels and biases concatenated: (kernel [H, 2S], bias [2S])."""
  return tf.concat([l.kernel for l in layers], 1), tf.concat([l.bias for l in layers], 0)


def _swap(t):
  return tf.transpose(t, [1, 0] + list(range(2, t.shape.rank)))


def _time_major(x):
  return tf.nest.map_structure(_swap, x)


_batch_major = _time_major  # Swapping the two leading axes is its own inverse.
