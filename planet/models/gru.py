"""The GRU of the original, `tf.contrib.rnn.GRUBlockCell`:

  [r, u] = sigmoid([x, h] W_ru + b_ru),  c = tanh([x, r * h] W_c + b_c),  h' = u * h + (1 - u) * c

with b_ru initialised to 1, b_c to 0 and glorot-uniform kernels on the stacked shapes [in + D, 2D] and
[in + D, D]. Keras' default GRUCell differs in maths, parameter count and initialisation.

The matmuls and gates compute in `dtype` (planet/tools/precision.py); the state h and the update
h' = u * h + (1 - u) * c stay in h's dtype (float32), so that the belief does not lose precision over
time.
"""

import tensorflow as tf

from planet.networks.basic import bias_add


class GRUBlockCell(tf.Module):

  def __init__(self, input_size, units, dtype='float32', name='gru'):
    super().__init__(name=name)
    self.units = units
    self.compute_dtype = dtype
    self.w_ru = tf.Variable(_glorot([input_size + units, 2 * units]), name='w_ru')
    self.b_ru = tf.Variable(tf.ones([2 * units]), name='b_ru')
    self.w_c = tf.Variable(_glorot([input_size + units, units]), name='w_c')
    self.b_c = tf.Variable(tf.zeros([units]), name='b_c')

  def weights(self):
    """The variables in the compute dtype: an unroll reads them once, outside its loop."""
    return [tf.cast(v, self.compute_dtype) for v in (self.w_ru, self.b_ru, self.w_c, self.b_c)]

  def __call__(self, x, h, weights=None):
    w_ru, b_ru, w_c, b_c = weights or self.weights()
    x, h_low = tf.cast(x, w_ru.dtype), tf.cast(h, w_ru.dtype)
    gates = tf.sigmoid(bias_add(tf.matmul(tf.concat([x, h_low], -1), w_ru), b_ru))
    r, u = tf.split(gates, 2, -1)
    c = tf.tanh(bias_add(tf.matmul(tf.concat([x, r * h_low], -1), w_c), b_c))
    u, c = tf.cast(u, h.dtype), tf.cast(c, h.dtype)
    return u * h + (1 - u) * c


def _glorot(shape):
  limit = (6.0 / (shape[0] + shape[1])) ** 0.5
  return tf.random.uniform(shape, -limit, limit)
