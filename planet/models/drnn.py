"""The doubly recurrent model: an encoder GRU, a stochastic layer and a decoder GRU, wired by
six flags. Prior and posterior are the same network; the prior sees a zero observation embedding. It is
stochastic (not the paper's deterministic baseline) and not used in the paper. Features: the decoder
state."""

import tensorflow as tf
import tf_keras as keras

from planet.models import base
from planet.models import gru
from planet.networks.basic import apply
from planet.tools import precision


class DRNN(base.Base):
  """State: encoder_state [D], decoder_state [D], mean, stddev, sample [S]."""

  def __init__(self, state_size=30, belief_size=200, hidden_size=200, action_size=1,
               embedding_size=1024, mean_only=False, min_stddev=0.1, encoder_to_decoder=False,
               sample_to_sample=True, sample_to_encoder=True, decoder_to_encoder=False,
               decoder_to_sample=True, action_to_decoder=False, dtype='float32', name='drnn'):
    super().__init__(mean_only, min_stddev, dtype, name=name)
    self.state_size = state_size
    self.belief_size = belief_size
    self.embedding_size = embedding_size
    self.flags = dict(
        encoder_to_decoder=encoder_to_decoder, sample_to_sample=sample_to_sample,
        sample_to_encoder=sample_to_encoder, decoder_to_encoder=decoder_to_encoder,
        decoder_to_sample=decoder_to_sample, action_to_decoder=action_to_decoder)
    encoder_in = (embedding_size + action_size + state_size * sample_to_encoder
                  + belief_size * decoder_to_encoder)
    decoder_in = (state_size + belief_size * encoder_to_decoder + action_size * action_to_decoder)
    self.encoder_cell = gru.GRUBlockCell(encoder_in, belief_size, dtype, name='encoder_gru')
    # The original's sample layer is always ReLU; the activation param is ignored here.
    self.hidden = keras.layers.Dense(hidden_size, tf.nn.relu, dtype=precision.keras_policy(dtype))
    self.stats = [keras.layers.Dense(state_size, dtype='float32') for _ in range(2)]
    self.decoder_cell = gru.GRUBlockCell(decoder_in, belief_size, dtype, name='decoder_gru')

  def initial(self, batch_size):
    zeros = lambda size: tf.zeros([batch_size, size], tf.float32)
    return {'encoder_state': zeros(self.belief_size), 'decoder_state': zeros(self.belief_size),
            'mean': zeros(self.state_size), 'stddev': zeros(self.state_size),
            'sample': zeros(self.state_size)}

  def _step(self, prev, prev_action, embedding, noise):
    f = self.flags
    inputs = [embedding, prev_action]
    inputs += [prev['sample']] if f['sample_to_encoder'] else []
    inputs += [prev['decoder_state']] if f['decoder_to_encoder'] else []
    encoder_state = self.encoder_cell(self.concat(*inputs), prev['encoder_state'])
    inputs = [encoder_state]
    inputs += [prev['sample']] if f['sample_to_sample'] else []
    inputs += [prev['decoder_state']] if f['decoder_to_sample'] else []
    stochastic = self.stochastic(apply(self.hidden, self.concat(*inputs)), self.stats, noise)
    inputs = [stochastic['sample']]
    inputs += [prev['encoder_state']] if f['encoder_to_decoder'] else []
    inputs += [prev_action] if f['action_to_decoder'] else []
    decoder_state = self.decoder_cell(self.concat(*inputs), prev['decoder_state'])
    return {'encoder_state': encoder_state, 'decoder_state': decoder_state, **stochastic}

  def transition(self, prev_state, prev_action, noise=None):
    zeros = tf.zeros([tf.shape(prev_action)[0], self.embedding_size])
    return self._step(prev_state, prev_action, zeros, noise)

  def posterior(self, prev_state, prev_action, embedding, noise=None):
    noise = noise or {}
    return (self._step(prev_state, prev_action, embedding, noise.get('posterior')),
            self.transition(prev_state, prev_action, noise.get('prior')))

  def features(self, state):
    return state['decoder_state']


def from_config(config, action_size):
  return DRNN(
      state_size=config.state_size, belief_size=config.model_size, hidden_size=config.model_size,
      action_size=action_size, mean_only=config.mean_only, min_stddev=config.min_stddev,
      dtype=config.compute_dtype, **dict(config.drnn_flags))
