"""Feed-forward heads: num_layers x Dense(units, activation), then a linear output."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

ACTIVATIONS = {
    'relu': tf.nn.relu, 'elu': tf.nn.elu, 'tanh': tf.nn.tanh,
    'swish': lambda x: x * tf.nn.sigmoid(x), 'softplus': tf.nn.softplus, 'none': None,
}


class FeedForward(tf.Module):
  """Maps [..., F] features to the mean of a [..., *shape] quantity."""

  def __init__(self, shape=(), num_layers=3, units=300, activation='relu', name='head'):
    super().__init__(name=name)
    self.shape = tuple(shape)
    act = ACTIVATIONS[activation]
    self.layers = [keras.layers.Dense(units, act) for _ in range(num_layers)]
    self.layers.append(keras.layers.Dense(int(np.prod(self.shape))))

  def __call__(self, features):
    x = features
    for layer in self.layers:
      x = layer(x)
    return tf.reshape(x, tf.concat([tf.shape(features)[:-1], self.shape], 0))
