"""Feed-forward heads (spec 4.7): num_layers x Dense(units, activation), then a linear output."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from planet.tools import precision

ACTIVATIONS = {
    'relu': tf.nn.relu, 'elu': tf.nn.elu, 'tanh': tf.nn.tanh,
    'swish': lambda x: x * tf.nn.sigmoid(x), 'softplus': tf.nn.softplus, 'none': None,
}


class FeedForward(tf.Module):
  """Maps [..., F] features to the float32 mean of a [..., *shape] quantity; the hidden layers compute
  in `dtype`, the linear output layer in float32 (it is small, and the mean enters a log-likelihood)."""

  def __init__(self, shape=(), num_layers=3, units=300, activation='relu', dtype='float32',
               name='head'):
    super().__init__(name=name)
    self.shape = tuple(shape)
    act = ACTIVATIONS[activation]
    policy = precision.keras_policy(dtype)
    self.layers = [keras.layers.Dense(units, act, dtype=policy) for _ in range(num_layers)]
    self.layers.append(keras.layers.Dense(int(np.prod(self.shape)), dtype='float32'))

  def __call__(self, features):
    # On [N, F] rows rather than [..., F]: Keras runs a Dense layer on more than two dimensions as a
    # tensordot, whose reshape keeps oneDNN from fusing the matmul with the bias and the activation.
    x = tf.reshape(features, [-1, features.shape[-1]])
    for layer in self.layers:
      x = layer(x)
    return tf.reshape(x, tf.concat([tf.shape(features)[:-1], self.shape], 0))
