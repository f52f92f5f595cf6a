"""The GRU of the original, `tf.contrib.rnn.GRUBlockCell`:

  [r, u] = sigmoid([x, h] W_ru + b_ru),  c = tanh([x, r * h] W_c + b_c),  h' = u * h + (1 - u) * c

with b_ru initialised to 1, b_c to 0 and glorot-uniform kernels on the stacked shapes [in + D, 2D] and
[in + D, D]. Keras' default GRUCell differs in maths, parameter count and initialisation.
"""

import tensorflow as tf


class GRUBlockCell(tf.Module):

  def __init__(self, input_size, units, name='gru'):
    super().__init__(name=name)
    self.units = units
    self.w_ru = tf.Variable(_glorot([input_size + units, 2 * units]), name='w_ru')
    self.b_ru = tf.Variable(tf.ones([2 * units]), name='b_ru')
    self.w_c = tf.Variable(_glorot([input_size + units, units]), name='w_c')
    self.b_c = tf.Variable(tf.zeros([units]), name='b_c')

  def __call__(self, x, h):
    gates = tf.sigmoid(tf.matmul(tf.concat([x, h], -1), self.w_ru) + self.b_ru)
    r, u = tf.split(gates, 2, -1)
    c = tf.tanh(tf.matmul(tf.concat([x, r * h], -1), self.w_c) + self.b_c)
    return u * h + (1 - u) * c


def _glorot(shape):
  limit = (6.0 / (shape[0] + shape[1])) ** 0.5
  return tf.random.uniform(shape, -limit, limit)
