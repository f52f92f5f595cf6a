"""The world model: encoder, latent cell and heads, with weights created once and shared by training,
the agent and the planner."""

import tensorflow as tf

from planet.models import rssm
from planet.networks import basic
from planet.networks import conv_ha


class WorldModel(tf.Module):

  def __init__(self, params, action_size, name='world_model'):
    super().__init__(name=name)
    self.action_size = action_size
    self.encoder = conv_ha.Encoder()
    self.cell = rssm.RSSM(
        state_size=params['state_size'], belief_size=params['model_size'],
        hidden_size=params['model_size'], future_rnn=params['future_rnn'],
        mean_only=params['mean_only'], min_stddev=params['min_stddev'],
        activation=params['activation'], num_layers=params['model_layers'])
    self.decoder = conv_ha.Decoder()
    self.reward = basic.FeedForward(
        (), params['num_layers'], params['num_units'], params['activation'], name='head_reward')
    self._build()

  @property
  def heads(self):
    return {'image': self.decoder, 'reward': self.reward}

  def _build(self):
    """Creates every weight with one call on zeros, so tf.functions never create variables."""
    embedding = self.encoder(tf.zeros([1, 1, 64, 64, 3]))
    post, _ = self.cell.observe(embedding, tf.zeros([1, 1, self.action_size]))
    features = self.cell.features(post)
    for head in self.heads.values():
      head(features)

  def num_parameters(self, module=None):
    module = module or self
    return int(sum(v.shape.num_elements() for v in module.trainable_variables))
