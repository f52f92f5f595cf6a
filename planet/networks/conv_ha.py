"""The convolutional encoder and decoder of World Models (Ha & Schmidhuber), as PlaNet uses them
(spec 4.5, 4.6). Weights: glorot-uniform kernels, zero biases (the TF1 defaults). The layers compute in
`dtype` (planet/tools/precision.py); the decoded image means are float32."""

import tensorflow as tf
import tf_keras as keras

from planet.tools import precision


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
      x = layer(x)
    x = tf.reshape(x, [-1, 1024])
    return tf.reshape(x, tf.concat([batch_dims, [1024]], 0))


class Decoder(tf.Module):
  """[..., F] features -> [..., 64, 64, 3] image means: Dense(1024), then 4 stride-2 valid deconvs."""

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
    batch_dims = tf.shape(features)[:-1]
    x = self.dense(tf.reshape(features, [-1, features.shape[-1]]))
    x = tf.reshape(x, [-1, 1, 1, 1024])
    for layer in self.layers:
      x = layer(x)
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, tf.concat([batch_dims, [64, 64, 3]], 0))
