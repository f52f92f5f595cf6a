"""The recurrent state-space model: a deterministic GRU belief and a diagonal Gaussian
stochastic state. Features are concat(sample, belief).

The maths is written once, in `_step` (one step of the recurrence) and `_stochastic` (hidden layers,
then the mean and stddev of a Gaussian and a sample). `observe` and `imagine` unroll it; `posterior`
and `transition`, one step, are unrolls of length one. Everything that does not depend on the previous
step runs outside the loop, on all B * T steps at once: the action's share of the first prior layer,
the embedding's share of the first posterior layer (the kernels sliced by rows, the variables
unchanged), and in `observe` the prior's layers after the GRU (only the belief and the posterior
sample feed the next step).

One step, with x_t the embedding of observation t and a_{t-1} the action that led to it:
  h = layers_before(concat(s_{t-1}, a_{t-1})),  belief_t = GRU(h, belief_{t-1})
  prior:     s_t ~ N(stats(layers_after(belief_t)))       (of h instead of belief_t without future_rnn)
  posterior: s_t ~ N(stats(post_layers(concat(belief_t, x_t))))
"""

import tensorflow as tf
import tf_keras as keras

from planet.models import base
from planet.models import gru
from planet.networks.basic import ACTIVATIONS
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
    self.hidden_size = hidden_size
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

  def initial(self, batch_size):
    zeros = lambda size: tf.zeros([batch_size, size], tf.float32)
    return {'mean': zeros(self.state_size), 'stddev': zeros(self.state_size),
            'sample': zeros(self.state_size), 'belief': zeros(self.belief_size)}

  def transition(self, prev_state, prev_action, noise=None):
    """The prior p(s_t | s_{t-1}, a_{t-1}): `imagine` over one action."""
    noise = None if noise is None else noise[:, None]
    return _first(self.imagine(prev_action[:, None], prev_state, noise))

  def posterior(self, prev_state, prev_action, embedding, noise=None):
    """(posterior, prior) of one step: `observe` over one embedding and action."""
    noise = {key: value[:, None] for key, value in (noise or {}).items()}
    post, prior = self.observe(embedding[:, None], prev_action[:, None], prev_state, noise)
    return _first(post), _first(prior)

  def observe(self, embedding, action, state=None, noise=None):
    noise = noise or {}
    state = self.initial(tf.shape(action)[0]) if state is None else state
    weights = self._weights(action.shape[-1], embedding.shape[-1])
    inputs = {'action': _time_major_matmul(action, *weights['action'], self.compute_dtype),
              'embedding': _time_major_matmul(embedding, *weights['embedding'], self.compute_dtype)}
    if not self.mean_only:
      inputs['noise'] = self._noise(action, noise.get('posterior'))
    carry = {key: state[key] for key in ('mean', 'stddev', 'sample', 'belief')}
    if not self.future_rnn:  # The prior's layers after the loop take the GRU's inputs.
      carry['hidden'] = tf.zeros([tf.shape(action)[0], self.hidden_size], self.compute_dtype)
    step = lambda prev, inputs: self._step(weights, prev, inputs, posterior=True)
    post = base._batch_major(tf.scan(step, inputs, carry))
    hidden = post.pop('hidden', None)
    x = post['belief'] if self.future_rnn else hidden
    prior = self._stochastic(x, weights['prior_after'], weights['prior_stats'], noise.get('prior'))
    return post, {**prior, 'belief': post['belief']}

  def imagine(self, action, state, noise=None):
    weights = self._weights(action.shape[-1])
    inputs = {'action': _time_major_matmul(action, *weights['action'], self.compute_dtype)}
    if not self.mean_only:
      inputs['noise'] = self._noise(action, noise)
    carry = {key: state[key] for key in ('mean', 'stddev', 'sample', 'belief')}
    step = lambda prev, inputs: self._step(weights, prev, inputs, posterior=False)
    return base._batch_major(tf.scan(step, inputs, carry))

  def _step(self, weights, prev, inputs, posterior):
    """One step of the recurrence from the previous state and this step's precomputed inputs: the
    posterior (of `observe`; its prior is computed after the loop) or the prior (of `imagine`)."""
    cast = lambda x: tf.cast(x, self.compute_dtype)
    kernel, activation = weights['sample']
    h = activation(tf.matmul(cast(prev['sample']), kernel) + inputs['action'])
    h = _dense(h, weights['prior_before'])
    belief = self.cell(h, prev['belief'], weights['cell'])
    if posterior:
      kernel, activation = weights['belief']
      x = activation(tf.matmul(cast(belief), kernel) + inputs['embedding'])
      state = self._stochastic(x, weights['post_layers'], weights['post_stats'], inputs.get('noise'))
    else:
      x = belief if self.future_rnn else h
      state = self._stochastic(x, weights['prior_after'], weights['prior_stats'], inputs.get('noise'))
    state['belief'] = belief
    if 'hidden' in prev:
      state['hidden'] = h
    return state

  def _stochastic(self, x, layers, stats, noise):
    """Hidden layers, then the Gaussian's mean and stddev and a sample (base.Base.gaussian)."""
    return self.gaussian(_dense(tf.cast(x, self.compute_dtype), layers), *stats, noise)

  def _weights(self, action_size, embedding_size=None):
    """Every weight read and cast to the compute dtype once, outside the loop: the first layers split
    into their rows for the sample and the action (prior) and the belief and the embedding
    (posterior); the other dense layers as (kernel, bias, activation); the two stats layers
    concatenated into one matmul. Builds the layers on first use."""
    self._build(action_size, embedding_size)
    cast = lambda x: tf.cast(x, self.compute_dtype)
    dense = lambda layers: [(cast(l.kernel), cast(l.bias), l.activation) for l in layers]
    first = self.prior_before[0]
    weights = {
        'sample': (cast(first.kernel[:self.state_size]), first.activation),
        'action': (first.kernel[self.state_size:], first.bias),
        'prior_before': dense(self.prior_before[1:]),
        'cell': self.cell.weights(),
        'prior_after': dense(self.prior_after),
        'prior_stats': base.stats_weights(self.prior_stats),
    }
    if embedding_size is not None:
      first = self.post_layers[0]
      weights.update({
          'belief': (cast(first.kernel[:self.belief_size]), first.activation),
          'embedding': (first.kernel[self.belief_size:], first.bias),
          'post_layers': dense(self.post_layers[1:]),
          'post_stats': base.stats_weights(self.post_stats),
      })
    return weights

  def _build(self, action_size, embedding_size=None):
    """Creates the variables of the layers (the posterior's once the embedding size is known)."""
    hidden = self.hidden_size
    inputs = [(self.prior_before, self.state_size + action_size),
              (self.prior_after, self.belief_size if self.future_rnn else hidden),
              (self.prior_stats, hidden)]
    if embedding_size is not None:
      inputs += [(self.post_layers, self.belief_size + embedding_size), (self.post_stats, hidden)]
    for layers, size in inputs:
      for index, layer in enumerate(layers):
        if not layer.built:
          layer.build((None, size if index == 0 else hidden))

  def _noise(self, action, noise):
    """Time-major [T, B, S] noise: the given [B, T, S] noise, or a fresh draw."""
    if noise is not None:
      return base._time_major(noise)
    shape = tf.shape(action)
    return tf.random.normal([shape[1], shape[0], self.state_size])

  def features(self, state):
    return tf.concat([state['sample'], state['belief']], -1)


def _dense(x, layers):
  """Dense layers given as (kernel, bias, activation) on [..., N] inputs (as [rows, N], where the
  matmul, the bias and the activation fuse)."""
  shape = tf.shape(x)[:-1]
  x = tf.reshape(x, [-1, x.shape[-1]])
  for kernel, bias, activation in layers:
    x = bias_add(tf.matmul(x, kernel), bias)
    x = activation(x) if activation is not None else x
  return tf.reshape(x, tf.concat([shape, [x.shape[-1]]], 0))


def _time_major_matmul(x, kernel, bias, dtype):
  """[B, T, N] x [N, M] + [M] as one matmul over all rows, in `dtype`, returned time-major [T, B, M]
  (the smaller side of the product is transposed)."""
  x = base._time_major(tf.cast(x, dtype))
  kernel, bias = tf.cast(kernel, dtype), tf.cast(bias, dtype)
  y = bias_add(tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), kernel), bias)
  return tf.reshape(y, tf.concat([tf.shape(x)[:-1], [kernel.shape[-1]]], 0))


def _first(state):
  return {key: value[:, 0] for key, value in state.items()}


def from_config(config, action_size):
  del action_size  # The cell reads it from its inputs.
  return RSSM(
      state_size=config.state_size, belief_size=config.model_size, hidden_size=config.model_size,
      future_rnn=config.future_rnn, mean_only=config.mean_only, min_stddev=config.min_stddev,
      activation=config.activation, num_layers=config.model_layers, dtype=config.compute_dtype)
