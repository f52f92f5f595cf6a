"""The purely stochastic state-space model: no deterministic path; features are the sample."""

import tensorflow as tf
import tf_keras as keras

from planet.models import base
from planet.networks.basic import ACTIVATIONS
from planet.networks.basic import apply
from planet.tools import precision


class SSM(base.Base):
  """State: mean, stddev, sample [S]. One hidden layer in the prior and one in the posterior."""

  def __init__(self, state_size=30, hidden_size=200, mean_only=False, min_stddev=0.1,
               activation='relu', dtype='float32', name='ssm'):
    super().__init__(mean_only, min_stddev, dtype, name=name)
    self.state_size = state_size
    act = ACTIVATIONS[activation]
    dense = lambda: keras.layers.Dense(hidden_size, act, dtype=precision.keras_policy(dtype))
    self.prior_hidden = dense()
    stats = lambda: [keras.layers.Dense(state_size, dtype='float32') for _ in range(2)]
    self.prior_stats = stats()
    self.post_hidden = dense()
    self.post_stats = stats()

  def initial(self, batch_size):
    zeros = tf.zeros([batch_size, self.state_size], tf.float32)
    return {'mean': zeros, 'stddev': zeros, 'sample': zeros}

  def transition(self, prev_state, prev_action, noise=None):
    h = apply(self.prior_hidden, self.concat(prev_state['sample'], prev_action))
    return self.stochastic(h, self.prior_stats, noise)

  def posterior(self, prev_state, prev_action, embedding, noise=None):
    noise = noise or {}
    prior = self.transition(prev_state, prev_action, noise.get('prior'))
    h = apply(self.post_hidden, self.concat(prior['mean'], prior['stddev'], embedding))
    return self.stochastic(h, self.post_stats, noise.get('posterior')), prior

  def features(self, state):
    return state['sample']


def from_config(config, action_size):
  del action_size  # The cell reads it from its inputs.
  return SSM(
      state_size=config.state_size, hidden_size=config.model_size, mean_only=config.mean_only,
      min_stddev=config.min_stddev, activation=config.activation, dtype=config.compute_dtype)
