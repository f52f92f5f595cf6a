"""The world model: encoders, latent cell, decoders and heads, with weights created once and shared by
training, the agent and the planner.

What the model sees is its observations: the `image` (the paper's: a convolutional encoder and
decoder) and/or the `state` vector, the concatenation of some of the task's state components (position,
velocity, ...) through a feed-forward encoder and decoder. Each observation is encoded, the embeddings
are concatenated for the posterior, and each is reconstructed from the features. Heads (decoders, the
reward and the diagnostic heads) return distributions, so every loss term is a log-likelihood.
"""

import numpy as np
import tensorflow as tf

from planet import models
from planet import networks
from planet.networks import basic

IMAGE_SHAPE = (64, 64, 3)


class WorldModel(tf.Module):

  def __init__(self, config, action_size, image=True, state_components=None, diagnostics=None,
               name='world_model'):
    """`config` is a models.ModelConfig. The model sees the image if `image`, and the vector of the
    `state_components` ({name: shape}, in order) if any; `diagnostics` ({name: shape}) are the state
    components that get a head on stopped-gradient features (state_diagnostics)."""
    super().__init__(name=name)
    self.action_size = action_size
    self.compute_dtype = config.compute_dtype
    self.state_components = {name: tuple(shape) for name, shape in (state_components or {}).items()}
    self.observations = ('image',) * bool(image) + ('state',) * bool(self.state_components)
    if not self.observations:
      raise ValueError('a world model needs an observation: the image, state components or both')
    self.encoder = self.decoder = self.state_encoder = self.state_decoder = None
    if image:  # The attribute names of the paper's model are its checkpoint keys.
      network = networks.NETWORKS[config.network]
      self.encoder = network.encoder(IMAGE_SHAPE, config)
      self.decoder = network.decoder(IMAGE_SHAPE, config)
    if self.state_components:
      network = networks.NETWORKS[config.state_network]
      self.state_encoder = network.encoder((self.state_size,), config)
      self.state_decoder = network.decoder((self.state_size,), config)
    self.cell = models.build(config, action_size)
    head = lambda name, shape: basic.FeedForward(
        shape, config.num_layers, config.num_units, config.activation, config.compute_dtype,
        name=f'head_{name}')
    self.reward = head('reward', ())
    self.state_heads = {name: head(name, shape) for name, shape in (diagnostics or {}).items()}
    self._build()

  @property
  def state_size(self):
    return sum(int(np.prod(shape)) for shape in self.state_components.values())

  @property
  def input_keys(self):
    """The keys of an environment's observation that the model reads."""
    return ('image',) * ('image' in self.observations) + tuple(self.state_components)

  @property
  def data_keys(self):
    """The keys of an episode that training reads: the action, the reward, the observations the model
    reads, the diagnostics' components."""
    return ('action', 'reward') + self.input_keys + tuple(self.state_heads)

  @property
  def heads(self):
    """Every head by the name of its target: the observations' decoders, the reward, the
    diagnostics."""
    decoders = {'image': self.decoder, 'state': self.state_decoder}
    return {**{name: decoders[name] for name in self.observations}, 'reward': self.reward,
            **self.state_heads}

  def inputs(self, data):
    """{observation: value} from a dict of [..., ...] data (images preprocessed)."""
    result = {}
    if 'image' in self.observations:
      result['image'] = data['image']
    if self.state_components:
      parts = []
      for name, shape in self.state_components.items():
        value = tf.cast(data[name], tf.float32)
        batch_dims = tf.shape(value)[:value.shape.rank - len(shape)]
        parts.append(tf.reshape(value, tf.concat([batch_dims, [int(np.prod(shape))]], 0)))
      result['state'] = tf.concat(parts, -1)
    return result

  def targets(self, data):
    """What each head predicts: the observations, the reward, the diagnostic components."""
    return {**self.inputs(data), 'reward': data['reward'],
            **{name: data[name] for name in self.state_heads}}

  def embed(self, data):
    """The concatenated embeddings of the observations, [..., E]."""
    inputs = self.inputs(data)
    encoders = {'image': self.encoder, 'state': self.state_encoder}
    return tf.concat([encoders[name](inputs[name]) for name in self.observations], -1)

  def _build(self):
    """Creates every weight with one call on zeros, so tf.functions never create variables."""
    data = {name: tf.zeros((1, 1) + shape) for name, shape in self.state_components.items()}
    data['image'] = tf.zeros((1, 1) + IMAGE_SHAPE)
    post, _ = self.cell.observe(self.embed(data), tf.zeros([1, 1, self.action_size]))
    features = self.cell.features(post)
    for head in self.heads.values():
      head(features)

  def num_parameters(self, module=None):
    module = module or self
    return int(sum(v.shape.num_elements() for v in module.trainable_variables))
