"""The tf.data pipeline over an episode directory: loader -> chunks -> batch -> prefetch -> preprocess.
There is no shuffle buffer; randomness comes from the loader and the chunk offsets."""

import functools

import tensorflow as tf

from planet.tools import episodes
from planet.tools import preprocess


def spec(directory, length, keys=None):
  """The TensorSpec of one chunk, read from the first readable episode of `directory`: its `keys`
  (None: every one; chunks leave out the `terminal` flag)."""
  episode = episodes.first_readable(directory, keys)
  return {k: tf.TensorSpec((length,) + v.shape[1:], tf.as_dtype(v.dtype))
          for k, v in episode.items() if k != 'terminal'}


def batch_spec(directory, batch_shape, keys=None):
  """The TensorSpec of one batch, as `dataset` yields it (images preprocessed to float32; episodes of
  an env that renders no image have none)."""
  batch, length = batch_shape
  result = {k: tf.TensorSpec((batch,) + tuple(v.shape), v.dtype)
            for k, v in spec(directory, length, keys).items()}
  if 'image' in result:
    result['image'] = tf.TensorSpec(result['image'].shape, tf.float32)
  return result


def dataset(directory, batch_shape, loader='recent', loader_every=1000, num_chunks=1, image_bits=5,
            seed=None, replay_size=None, keys=None):
  """Batches of `batch_shape` [B, T] chunks of the episodes in `directory`, images preprocessed. The
  `recent` and `cache` loaders keep the newest `replay_size` steps of episodes in memory (None: all).
  Batches hold the episodes' `keys` only (None: every one): a model of state vectors is not sent the
  images its episodes also store."""
  batch, length = batch_shape
  generator = functools.partial(
      episodes.chunks, directory, loader, loader_every, length, num_chunks, seed, replay_size, keys)
  data = tf.data.Dataset.from_generator(generator, output_signature=spec(directory, length, keys))
  data = data.batch(batch, drop_remainder=True)

  def process(batch):
    if 'image' not in batch:
      return batch
    return {**batch, 'image': preprocess.preprocess(batch['image'], image_bits)}

  # Ten batches wait as uint8 images and are preprocessed as they are needed: float32 ones would hold
  # 4x the memory (1.2 GB per data set at [50, 50]).
  data = data.prefetch(10)
  data = data.map(process, num_parallel_calls=2, deterministic=True)
  # No autotuning: its model thread can sleep up to a minute between rounds, and destroying the
  # iterator (at the end of every run) waited for it (3 to 88 s measured); the sizes above are fixed.
  options = tf.data.Options()
  options.autotune.enabled = False
  return data.prefetch(1).with_options(options)
