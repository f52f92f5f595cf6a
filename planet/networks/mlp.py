"""A feed-forward encoder and decoder for vector observations (a task's state: positions, velocities,
...), as Dreamer encodes vectors: `num_layers` dense layers of `num_units` (the heads' sizes) with the
model's activation. The encoder's embedding is its last hidden layer; the decoder is a head whose
output is the mean of a unit-variance Normal over the vector, as the image is reconstructed."""

import tensorflow as tf
import tf_keras as keras

from planet.networks import basic
from planet.tools import precision


class Encoder(tf.Module):
  """[..., N] vectors -> [..., units] embeddings in the compute dtype (the vector itself with no
  layers)."""

  def __init__(self, num_layers=3, units=300, activation='relu', dtype='float32', name='encoder'):
    super().__init__(name=name)
    policy = precision.keras_policy(dtype)
    self.layers = [keras.layers.Dense(units, basic.ACTIVATIONS[activation], dtype=policy)
                   for _ in range(num_layers)]

  def __call__(self, vector):
    x = tf.reshape(vector, [-1, vector.shape[-1]])  # rows: the matmul, bias and activation fuse
    for layer in self.layers:
      x = basic.apply(layer, x)
    return tf.reshape(x, tf.concat([tf.shape(vector)[:-1], [x.shape[-1]]], 0))


def encoder(shape, config):
  if len(shape) != 1:
    raise ValueError(f'the mlp encoder takes vectors, not observations of shape {tuple(shape)}')
  return Encoder(config.num_layers, config.num_units, config.activation, config.compute_dtype,
                 name='state_encoder')


def decoder(shape, config):
  if len(shape) != 1:
    raise ValueError(f'the mlp decoder reconstructs vectors, not observations of shape {tuple(shape)}')
  return basic.FeedForward(shape, config.num_layers, config.num_units, config.activation,
                           config.compute_dtype, name='state_decoder')
