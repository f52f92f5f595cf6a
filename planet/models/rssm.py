"""The recurrent state-space model: a deterministic GRU belief and a diagonal Gaussian
stochastic state. Features are concat(sample, belief).

`transition` and `posterior` are one step, as the original writes them. `observe` and `imagine` unroll
the same maths with only the recurrence inside the loop: the action's share of the first prior layer
and the embedding's share of the first posterior layer are one matmul each over all B * T steps (the
kernels sliced by rows, the variables unchanged), and in `observe` the prior's layers after the GRU run
after the loop on all beliefs at once (only the belief and the posterior sample feed the next step).
"""

import tensorflow as tf
import tf_keras as keras

from planet.models import base
from planet.models import gru
from planet.networks.basic import ACTIVATIONS
from planet.networks.basic import apply
from planet.networks.basic import bias_add
from planet.tools import precision


class RSSM(base.Base):
  """State: mean, stddev, sample [S] and belief [D] (the GRU output is its state)."""

  def __init__(self, state_size=30, belief_size=200, hidden_size=200, future_rnn=True,
               mean_only=False, min_stddev=0.1, activation='relu', num_layers=1, dtype='float32',
               name='rssm'):
    super().__init__(mean_only, min_stddev, dtype, name=name)
    self.state_size = state_size
    self.belief_size = belief_size
    self.future_rnn = future_rnn
    act = ACTIVATIONS[activation]
    policy = precision.keras_policy(dtype)
    dense = lambda: [keras.layers.Dense(hidden_size, act, dtype=policy) for _ in range(num_layers)]
    self.prior_before = dense()
    self.cell = gru.GRUBlockCell(hidden_size, belief_size, dtype)
    self.prior_after = dense()
    stats = lambda: [keras.layers.Dense(state_size, dtype='float32') for _ in range(2)]
    self.prior_stats = stats()
    self.post_layers = dense()
    self.post_stats = stats()

  @property
  def feature_size(self):
    return self.state_size + self.belief_size

  def initial(self, batch_size):
    zeros = lambda size: tf.zeros([batch_size, size], tf.float32)
    return {'mean': zeros(self.state_size), 'stddev': zeros(self.state_size),
            'sample': zeros(self.state_size), 'belief': zeros(self.belief_size)}

  def transition(self, prev_state, prev_action, noise=None):
    h = self.concat(prev_state['sample'], prev_action)
    for layer in self.prior_before:
      h = apply(layer, h)
    belief = self.cell(h, prev_state['belief'])
    return self._prior(belief, h, noise)

  def posterior(self, prev_state, prev_action, embedding, noise=None):
    noise = noise or {}
    prior = self.transition(prev_state, prev_action, noise.get('prior'))
    h = self.concat(prior['belief'], embedding)
    for layer in self.post_layers:
      h = apply(layer, h)
    post = self.stochastic(h, self.post_stats, noise.get('posterior'))
    return {**post, 'belief': prior['belief']}, prior

  def _prior(self, belief, h, noise):
    """The prior's layers after the GRU, on [B, ...] or [B, T, ...]; `h` is the input of the GRU."""
    if self.future_rnn:
      h = belief
    for layer in self.prior_after:
      h = apply(layer, h)
    return {**self.stochastic(h, self.prior_stats, noise), 'belief': belief}

  def observe(self, embedding, action, state=None, noise=None):
    batch = tf.shape(action)[0]
    state = self.initial(batch) if state is None else state
    if not all(layer.built for layer in self.post_layers + self.prior_after):
      self.posterior(state, action[:, 0], embedding[:, 0])  # Creates the variables.
    noise = noise or {}
    first = self.post_layers[0]
    # The loop reads time-major [T, B, ...] inputs: transpose the smaller side of each matmul.
    share = _matmul(embedding, first.kernel[self.belief_size:], first.bias, self.compute_dtype)
    inputs = {'action': self._action_share(base._time_major(action)),
              'embedding': base._time_major(share)}
    if not self.mean_only:
      inputs['noise'] = self._noise(action, noise.get('posterior'))
    carry = {key: state[key] for key in ('mean', 'stddev', 'sample', 'belief')}
    if not self.future_rnn:  # The prior's layers after the loop take the GRU's inputs.
      carry['hidden'] = tf.zeros([batch, self.prior_before[-1].units], self.compute_dtype)
    post = base._batch_major(tf.scan(self._step_function(posterior=True), inputs, carry))
    prior = self._prior(post['belief'], post.pop('hidden', None), noise.get('prior'))
    return post, prior

  def imagine(self, action, state, noise=None):
    if not all(layer.built for layer in self.prior_before + self.prior_after):
      self.transition(state, action[:, 0])  # Creates the variables.
    inputs = {'action': self._action_share(base._time_major(action))}
    if not self.mean_only:
      inputs['noise'] = self._noise(action, noise)
    carry = {key: state[key] for key in ('mean', 'stddev', 'sample', 'belief')}
    prior = tf.scan(self._step_function(posterior=False), inputs, carry)
    return base._batch_major(prior)

  def _action_share(self, action):
    """[..., A] actions times the action rows of the first prior kernel, plus its bias."""
    first = self.prior_before[0]
    return _matmul(action, first.kernel[self.state_size:], first.bias, self.compute_dtype)

  def _noise(self, action, noise):
    """Time-major [T, B, S] noise: the given [B, T, S] noise, or a fresh draw."""
    if noise is not None:
      return base._time_major(noise)
    shape = tf.shape(action)
    return tf.random.normal([shape[1], shape[0], self.state_size])

  def _step_function(self, posterior):
    """One step of the unroll, with every weight read and cast once, outside the loop: the posterior
    of `observe` (its prior comes after the loop) or the prior of `imagine`. The two stats layers run
    as one float32 matmul on their concatenated kernels."""
    cast = lambda x: tf.cast(x, self.compute_dtype)
    dense = lambda layers: [(cast(l.kernel), cast(l.bias), l.activation) for l in layers]
    sample_kernel = cast(self.prior_before[0].kernel[:self.state_size])
    first_activation = self.prior_before[0].activation
    before = dense(self.prior_before[1:])
    cell = self.cell.weights()
    if posterior:
      post_first = self.post_layers[0]
      belief_kernel = cast(post_first.kernel[:self.belief_size])
      after, stats = dense(self.post_layers[1:]), self.post_stats
    else:
      after, stats = dense(self.prior_after), self.prior_stats
    stats_kernel = tf.concat([l.kernel for l in stats], 1)
    stats_bias = tf.concat([l.bias for l in stats], 0)

    def step(prev, inputs):
      h = first_activation(tf.matmul(cast(prev['sample']), sample_kernel) + inputs['action'])
      for kernel, bias, activation in before:
        h = activation(bias_add(tf.matmul(h, kernel), bias))
      belief = self.cell(h, prev['belief'], cell)
      if posterior:
        x = post_first.activation(tf.matmul(cast(belief), belief_kernel) + inputs['embedding'])
      else:
        x = cast(belief) if self.future_rnn else h
      for kernel, bias, activation in after:
        x = activation(bias_add(tf.matmul(x, kernel), bias))
      stats = bias_add(tf.matmul(tf.cast(x, tf.float32), stats_kernel), stats_bias)
      mean, stddev = tf.split(stats, 2, -1)
      stddev = tf.nn.softplus(stddev) + self.min_stddev
      state = {'mean': mean, 'stddev': stddev, 'belief': belief,
               'sample': self.sample(mean, stddev, inputs.get('noise'))}
      if 'hidden' in prev:
        state['hidden'] = h
      return state

    return step

  def features(self, state):
    return tf.concat([state['sample'], state['belief']], -1)


def _matmul(x, kernel, bias, dtype):
  """[..., N] x [N, M] + [M] as one matmul over all rows, in `dtype`."""
  x, kernel, bias = tf.cast(x, dtype), tf.cast(kernel, dtype), tf.cast(bias, dtype)
  y = bias_add(tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), kernel), bias)
  return tf.reshape(y, tf.concat([tf.shape(x)[:-1], [kernel.shape[-1]]], 0))


def from_config(config, action_size):
  del action_size  # The cell reads it from its inputs.
  return RSSM(
      state_size=config.state_size, belief_size=config.model_size, hidden_size=config.model_size,
      future_rnn=config.future_rnn, mean_only=config.mean_only, min_stddev=config.min_stddev,
      activation=config.activation, num_layers=config.model_layers, dtype=config.compute_dtype)
