"""The convolutional encoder and decoder of World Models (Ha & Schmidhuber), as PlaNet uses them.
Weights: glorot-uniform kernels, zero biases (the TF1 defaults). The layers compute in
`dtype` (planet/tools/precision.py); the decoded image means are float32 (the last bias is added in
float32).

Two of the decoder's transposed convolutions are slow on CPUs in their direct form (oneDNN's backward-
data convolution of a 1x1 input, and of 3 output channels): they run as the same maths in another form,
on the same kernel variables (`_deconv_as_matmul`, `_deconv_as_conv`). At [50, 50] this made the
decoder's forward and backward pass ~1.3x faster on the AMD EPYC (Zen 4) CPU, in float32 and bfloat16.
"""

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from planet.networks import basic
from planet.tools import precision

tfd = tfp.distributions

class Encoder(tf.Module):
  """[..., 64, 64, 3] preprocessed images -> [..., 1024] embeddings: 4 stride-2 valid ReLU convs."""

  def __init__(self, dtype='float32', name='encoder'):
    super().__init__(name=name)
    policy = precision.keras_policy(dtype)
    self.layers = [keras.layers.Conv2D(filters, 4, 2, activation='relu', dtype=policy)
                   for filters in (32, 64, 128, 256)]

  def __call__(self, image):
    batch_dims = tf.shape(image)[:-3]
    x = tf.reshape(image, [-1, 64, 64, 3])
    for layer in self.layers:
      x = basic.apply(layer, x)
    x = tf.reshape(x, [-1, 1024])
    return tf.reshape(x, tf.concat([batch_dims, [1024]], 0))


class Decoder(tf.Module):
  """[..., F] features -> the [..., 64, 64, 3] image's distribution: Dense(1024), then 4 stride-2 valid
  deconvs give its means."""

  def __init__(self, dtype='float32', name='decoder'):
    super().__init__(name=name)
    policy = precision.keras_policy(dtype)
    self.dense = keras.layers.Dense(1024, dtype=policy)
    self.layers = [
        keras.layers.Conv2DTranspose(128, 5, 2, activation='relu', dtype=policy),
        keras.layers.Conv2DTranspose(64, 5, 2, activation='relu', dtype=policy),
        keras.layers.Conv2DTranspose(32, 6, 2, activation='relu', dtype=policy),
        keras.layers.Conv2DTranspose(3, 6, 2, dtype=policy),
    ]

  def __call__(self, features):
    """The distribution of the image: a unit-variance Normal around the decoded means, over the
    [64, 64, 3] event dimensions."""
    self._build(features.shape[-1])
    batch_dims = tf.shape(features)[:-1]
    x = basic.apply(self.dense, tf.reshape(features, [-1, features.shape[-1]]))
    x = _deconv_as_matmul(self.layers[0], x)
    x = basic.apply(self.layers[2], basic.apply(self.layers[1], x))
    x = tf.cast(_deconv_as_conv(self.layers[3], x, tf.float32), tf.float32)
    mean = tf.reshape(x, tf.concat([batch_dims, [64, 64, 3]], 0))
    return tfd.Independent(tfd.Normal(mean, 1.0), 3)

  def _build(self, feature_size):
    """Creates the variables on the first call, from the feature size (1 -> 5 -> 13 -> 30 -> 64
    pixels: valid transposed convolutions of stride 2)."""
    if self.dense.built:
      return
    self.dense.build((None, feature_size))
    for layer, (size, channels) in zip(self.layers, ((1, 1024), (5, 128), (13, 64), (30, 32))):
      layer.build((None, size, size, channels))


def _deconv_as_matmul(layer, x):
  """A transposed convolution of a 1x1 input is one matmul: y[i, j, c] = sum_k x[k] K[i, j, c, k]
  for [N, in] inputs and the layer's [k, k, out, in] kernel K; the bias is tiled to the k * k * out
  outputs so that the matmul, the bias and the activation fuse."""
  size, _, out, inputs = layer.kernel.shape
  dtype = layer.compute_dtype
  kernel = tf.reshape(tf.transpose(tf.cast(layer.kernel, dtype), [3, 0, 1, 2]), [inputs, -1])
  bias = tf.tile(tf.cast(layer.bias, dtype), [size * size])
  y = layer.activation(basic.bias_add(tf.matmul(tf.cast(x, dtype), kernel), bias))
  return tf.reshape(y, [-1, size, size, out])


def _deconv_as_conv(layer, x, output_dtype=None):
  """A stride-2 valid transposed convolution with an even kernel size 2t, as a stride-1 valid
  convolution with a t x t kernel and 4x the output channels on the input padded by t - 1, then
  depth_to_space(2) (the sub-pixel form of the same sums).

  Output pixel (2m + a, 2n + b) sums x[m - d, n - e] K[2d + a, 2e + b] over d, e in 0..t-1, which is
  entry (a, b) of a correlation of the padded input with the kernel W[p, q, :, (a, b, c)] =
  K[2(t-1-p) + a, 2(t-1-q) + b, c, :]. The bias and the activation apply in `output_dtype` (default:
  the compute dtype).
  """
  size, _, out, inputs = layer.kernel.shape
  half = size // 2
  dtype = layer.compute_dtype
  kernel = tf.reshape(tf.cast(layer.kernel, dtype), [half, 2, half, 2, out, inputs])
  kernel = tf.reverse(kernel, [0, 2])
  kernel = tf.reshape(tf.transpose(kernel, [0, 2, 5, 1, 3, 4]), [half, half, inputs, 4 * out])
  pad = half - 1
  x = tf.pad(tf.cast(x, dtype), [[0, 0], [pad, pad], [pad, pad], [0, 0]])
  y = tf.nn.depth_to_space(tf.nn.conv2d(x, kernel, 1, 'VALID'), 2)
  y = tf.cast(y, output_dtype or dtype)
  return layer.activation(basic.bias_add(y, layer.bias))


def encoder(shape, config):
  _check(shape)
  return Encoder(config.compute_dtype)


def decoder(shape, config):
  _check(shape)
  return Decoder(config.compute_dtype)


def _check(shape):
  if tuple(shape) != (64, 64, 3):
    raise ValueError(f'conv_ha takes 64x64x3 images, not observations of shape {tuple(shape)}')
