"""The world model: encoder, latent cell, decoder and heads, with weights created once and shared by
training, the agent and the planner."""

import tensorflow as tf

from planet import models
from planet import networks
from planet.networks import basic


class WorldModel(tf.Module):

  def __init__(self, config, action_size, state_shapes=None, name='world_model'):
    """`config` is a models.ModelConfig; `state_shapes` maps each state component to diagnose
    (state_diagnostics) to its shape."""
    super().__init__(name=name)
    self.action_size = action_size
    self.compute_dtype = config.compute_dtype
    network = networks.NETWORKS[config.network]
    self.encoder = network.Encoder(dtype=config.compute_dtype)
    self.cell = models.build(config, action_size)
    self.decoder = network.Decoder(dtype=config.compute_dtype)
    head = lambda name, shape: basic.FeedForward(
        shape, config.num_layers, config.num_units, config.activation, config.compute_dtype,
        name=f'head_{name}')
    self.reward = head('reward', ())
    self.state_heads = {name: head(name, shape) for name, shape in (state_shapes or {}).items()}
    self._build()

  @property
  def heads(self):
    return {'image': self.decoder, 'reward': self.reward, **self.state_heads}

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
