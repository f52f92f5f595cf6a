"""The recurrent state-space model: a deterministic GRU belief and a diagonal Gaussian
stochastic state. Features are concat(sample, belief)."""

import tensorflow as tf
import tf_keras as keras

from planet.models import base
from planet.models import gru
from planet.networks.basic import ACTIVATIONS


class RSSM(base.Base):
  """State: mean, stddev, sample [S] and belief [D] (the GRU output is its state)."""

  def __init__(self, state_size=30, belief_size=200, hidden_size=200, future_rnn=True,
               mean_only=False, min_stddev=0.1, activation='relu', num_layers=1, name='rssm'):
    super().__init__(mean_only, min_stddev, name=name)
    self.state_size = state_size
    self.belief_size = belief_size
    self.future_rnn = future_rnn
    act = ACTIVATIONS[activation]
    dense = lambda: [keras.layers.Dense(hidden_size, act) for _ in range(num_layers)]
    self.prior_before = dense()
    self.cell = gru.GRUBlockCell(hidden_size, belief_size)
    self.prior_after = dense()
    self.prior_stats = [keras.layers.Dense(state_size), keras.layers.Dense(state_size)]
    self.post_layers = dense()
    self.post_stats = [keras.layers.Dense(state_size), keras.layers.Dense(state_size)]

  @property
  def feature_size(self):
    return self.state_size + self.belief_size

  def initial(self, batch_size):
    zeros = lambda size: tf.zeros([batch_size, size], tf.float32)
    return {'mean': zeros(self.state_size), 'stddev': zeros(self.state_size),
            'sample': zeros(self.state_size), 'belief': zeros(self.belief_size)}

  def transition(self, prev_state, prev_action):
    h = tf.concat([prev_state['sample'], prev_action], -1)
    for layer in self.prior_before:
      h = layer(h)
    belief = self.cell(h, prev_state['belief'])
    if self.future_rnn:
      h = belief
    for layer in self.prior_after:
      h = layer(h)
    return {**self.stochastic(h, self.prior_stats), 'belief': belief}

  def posterior(self, prev_state, prev_action, embedding):
    prior = self.transition(prev_state, prev_action)
    h = tf.concat([prior['belief'], embedding], -1)
    for layer in self.post_layers:
      h = layer(h)
    return {**self.stochastic(h, self.post_stats), 'belief': prior['belief']}, prior

  def features(self, state):
    return tf.concat([state['sample'], state['belief']], -1)


def from_config(config, action_size):
  del action_size  # The cell reads it from its inputs.
  return RSSM(
      state_size=config.state_size, belief_size=config.model_size, hidden_size=config.model_size,
      future_rnn=config.future_rnn, mean_only=config.mean_only, min_stddev=config.min_stddev,
      activation=config.activation, num_layers=config.model_layers)
