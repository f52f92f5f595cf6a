"""Feed-forward heads: num_layers x Dense(units, activation), then a linear output, the mean of a
unit-variance Normal; and the dense-layer helpers every network uses."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from planet.tools import precision

tfd = tfp.distributions

ACTIVATIONS = {
    'relu': tf.nn.relu, 'elu': tf.nn.elu, 'tanh': tf.nn.tanh,
    'swish': lambda x: x * tf.nn.sigmoid(x), 'softplus': tf.nn.softplus, 'none': None,
}


def bias_add(x, bias):
  """x + bias over the last axis. In float32 `tf.nn.bias_add`, which fuses with the matmul or
  convolution before it. In 16-bit dtypes a broadcast add: its gradient is a `tf.reduce_sum`, which
  accumulates in float32, where BiasAddGrad (and oneDNN's fused convolution backward) accumulate in
  bfloat16 and lose most of a bias gradient summed over B * T * H * W terms."""
  bias = tf.cast(bias, x.dtype)
  return tf.nn.bias_add(x, bias) if x.dtype == tf.float32 else x + bias


def apply(layer, x):
  """Calls a Keras Dense, Conv2D or Conv2DTranspose layer (valid padding); with a 16-bit compute dtype,
  the same maths with the bias added by `bias_add`. The first call builds the layer."""
  dtype = layer.compute_dtype
  if not layer.built:
    layer.build(x.shape)
  if dtype == 'float32':
    return layer(x)
  x, kernel = tf.cast(x, dtype), tf.cast(layer.kernel, dtype)
  if isinstance(layer, keras.layers.Conv2DTranspose):
    size, stride = layer.kernel_size[0], layer.strides[0]
    out = (x.shape[1] - 1) * stride + size
    shape = tf.stack([tf.shape(x)[0], out, out, layer.filters])
    y = tf.nn.conv2d_transpose(x, kernel, shape, stride, 'VALID')
  elif isinstance(layer, keras.layers.Conv2D):
    y = tf.nn.conv2d(x, kernel, layer.strides, 'VALID')
  else:
    y = tf.reshape(tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), kernel),
                   tf.concat([tf.shape(x)[:-1], [layer.units]], 0))
  return layer.activation(bias_add(y, layer.bias))


class FeedForward(tf.Module):
  """Maps [..., F] features to the distribution of a [..., *shape] quantity: a unit-variance Normal
  around the output. The hidden layers compute in `dtype`, the linear output layer in float32 (it is
  small, and the mean enters a log-likelihood)."""

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
      x = apply(layer, x)
    mean = tf.reshape(x, tf.concat([tf.shape(features)[:-1], self.shape], 0))
    return tfd.Independent(tfd.Normal(mean, 1.0), len(self.shape))
