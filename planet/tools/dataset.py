"""The tf.data pipeline over an episode directory (spec 7.3): loader -> chunks -> batch -> preprocess
-> prefetch. There is no shuffle buffer; randomness comes from the loader and the chunk offsets."""

import functools

import tensorflow as tf

from planet.tools import episodes
from planet.tools import preprocess


def spec(directory, length):
  """The TensorSpec of one chunk, read from the first episode of `directory`."""
  names = episodes.filenames(directory)
  if not names:
    raise FileNotFoundError(f'no episodes in {directory}')
  episode = episodes.load(names[0])
  result = {k: tf.TensorSpec((length,) + v.shape[1:], tf.as_dtype(v.dtype)) for k, v in episode.items()}
  result['length'] = tf.TensorSpec((), tf.int32)
  return result


def dataset(directory, params, seed=None):
  batch, length = params['batch_shape']
  generator = functools.partial(
      episodes.chunks, directory, params['loader'], params['loader_every'], length,
      params['num_chunks'], seed)
  data = tf.data.Dataset.from_generator(generator, output_signature=spec(directory, length))
  data = data.batch(batch, drop_remainder=True)
  bits = params['image_bits']

  def process(batch):
    return {**batch, 'image': preprocess.preprocess(batch['image'], bits)}

  data = data.map(process, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return data.prefetch(10)
