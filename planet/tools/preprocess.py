"""Image quantisation: uint8 -> `bits`-bit floats in [-0.5, 0.5) with uniform
dequantisation noise, and back for summaries."""

import tensorflow as tf


def preprocess(image, bits=5, noise=True):
  """floor(image / 2^(8-bits)) / 2^bits + U[0, 1/2^bits) - 0.5, as float32."""
  bins = 2 ** bits
  image = tf.cast(image, tf.float32)
  if bits < 8:
    image = tf.floor(image / 2 ** (8 - bits))
  image = image / bins
  if noise:
    image = image + tf.random.uniform(tf.shape(image), 0, 1.0 / bins)
  return image - 0.5


def postprocess(image, bits=5, dtype=tf.float32):
  """Inverse of preprocess, without the noise: floats in {0, 1/2^bits, ...} or uint8."""
  bins = 2 ** bits
  image = tf.floor(bins * (tf.cast(image, tf.float32) + 0.5))
  if dtype == tf.float32:
    return image / bins
  return tf.cast(tf.clip_by_value(image * (256 / bins), 0, 255), tf.uint8)
