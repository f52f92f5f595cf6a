"""Rich TensorBoard summaries: image strips of the data and of closed- and open-loop
predictions, prediction GIFs (truth above prediction), the state vector's prediction error, latent state
statistics, predicted against true reward, and episode GIFs. Computed only on log steps."""

import io

import imageio.v3 as iio
import numpy as np
import tensorflow as tf
from PIL import Image
from tensorboard.plugins.image import metadata as image_metadata

from planet.tools import preprocess

OPEN_LOOP_CONTEXT = 5


def strip(video, max_rows=10, max_cols=100):
  """[B, T, H, W, C] floats in [0, 1] -> uint8 [rows * H, cols * W, C]: one row per sequence."""
  video = np.asarray(video)[:max_rows, :max_cols]
  rows, cols, height, width, channels = video.shape
  image = video.transpose(0, 2, 1, 3, 4).reshape(rows * height, cols * width, channels)
  return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def encode_gif(frames, fps=20):
  """[T, H, W, C] uint8 -> GIF bytes. Each frame gets its own 256-colour palette by Pillow's fast
  octree quantizer: its default (median cut) took about 1 s per prediction GIF on a 2-core CPU, most
  of a debug run's time, for no visible difference at 64x64 pixels per frame."""
  frames = [Image.fromarray(frame).convert('RGB').quantize(method=Image.Quantize.FASTOCTREE)
            for frame in np.asarray(frames)]
  buffer = io.BytesIO()
  frames[0].save(buffer, format='GIF', save_all=True, append_images=frames[1:],
                 duration=1000 / fps, loop=0)
  return buffer.getvalue()


def gif(name, video, step, fps=20, max_batch=10):
  """An animated image summary: [B, T, H, W, C] floats in [0, 1], batch entries side by side."""
  video = np.clip(np.asarray(video)[:max_batch], 0, 1)
  batch, length, height, width, channels = video.shape
  frames = (video.transpose(1, 2, 0, 3, 4).reshape(length, height, batch * width, channels)
            * 255).astype(np.uint8)
  _write_encoded(name, batch * width, height, encode_gif(frames, fps), step)


def image(name, array, step):
  """An image summary of one [H, W, C] uint8 array, PNG-encoded by Pillow at a low compression level
  (TensorFlow's eager `tf.summary.image` took about 0.1 s per strip, 7 strips per log step)."""
  array = np.asarray(array)
  buffer = io.BytesIO()
  Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array).save(
      buffer, format='PNG', compress_level=1)
  _write_encoded(name, array.shape[1], array.shape[0], buffer.getvalue(), step)


def _write_encoded(name, width, height, encoded, step):
  """An image summary of already encoded bytes (PNG or GIF), in TensorBoard's image plugin format."""
  tensor = tf.constant([str(width), str(height), encoded])
  tf.summary.write(name, tensor, step=step, metadata=image_metadata.create_summary_metadata(
      display_name=name, description=''))


def line_plot(name, series, step, title=''):
  """A matplotlib line plot of {label: values} as an image summary."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
  for label, values in series.items():
    ax.plot(values, label=label)
  ax.set_title(title)
  ax.legend(fontsize=7)
  fig.tight_layout()
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png')
  plt.close(fig)
  image(name, iio.imread(buffer.getvalue())[..., :3], step)


def state_statistics(cell, prior, posterior):
  """Mean entropy and stddev of prior and posterior, and their KL, as floats."""
  return {
      'prior_entropy': float(tf.reduce_mean(cell.dist(prior).entropy())),
      'prior_std': float(tf.reduce_mean(prior['stddev'])),
      'posterior_entropy': float(tf.reduce_mean(cell.dist(posterior).entropy())),
      'posterior_std': float(tf.reduce_mean(posterior['stddev'])),
      'divergence': float(tf.reduce_mean(cell.divergence(posterior, prior))),
  }


def open_loop(model, data, context=OPEN_LOOP_CONTEXT):
  """Posterior states for the first `context` steps, then the prior driven by the data's actions."""
  first = {key: data[key][:, :context] for key in model.input_keys}
  posterior, _ = model.cell.observe(model.embed(first), data['action'][:, :context])
  last = tf.nest.map_structure(lambda x: x[:, -1], posterior)
  prior = model.cell.imagine(data['action'][:, context:], last)
  return tf.nest.map_structure(lambda a, b: tf.concat([a, b], 1), posterior, prior)


def log_model(model, data, step, bits=5):
  """Writes the data, closed-loop and open-loop summaries of one batch into the default writer (none:
  nothing is written): image strips and GIFs where the model predicts images, the state vector's and
  the reward's errors; returns its scalars, {tag: float}."""
  scalars = {}

  def scalar(name, value):
    tf.summary.scalar(name, value, step=step)
    scalars[name] = value

  images = 'image' in model.observations
  if images:
    truth = preprocess.postprocess(data['image'], bits).numpy()
    image('data/image', strip(truth), step)
  posterior, prior = model.cell.observe(model.embed(data), data['action'])
  for key, value in state_statistics(model.cell, prior, posterior).items():
    scalar(f'closedloop/state/{key}', value)
  states = {'closedloop': posterior, 'openloop': open_loop(model, data)}
  targets = model.targets(data)
  for name, state in states.items():
    features = model.cell.features(state)
    if images:
      prediction = preprocess.postprocess(model.decoder(features).mean(), bits).numpy()
      prediction = np.clip(prediction, 0, 1)
      image(f'{name}/image/prediction', strip(prediction), step)
      image(f'{name}/image/error', strip((prediction - truth + 1) / 2), step)
      change = np.concatenate([np.zeros_like(prediction[:, :1]), np.diff(prediction, axis=1)], 1)
      image(f'{name}/image/change', strip((change + 1) / 2), step)
      gif(f'{name}/image/animation', np.concatenate([truth, prediction], 2), step)
    if 'state' in model.observations:
      vector = model.state_decoder(features).mean().numpy()
      scalar(f'{name}/vector/abs_error', float(np.abs(vector - targets['state'].numpy()).mean()))
    reward = model.reward(features).mean().numpy()
    scalar(f'{name}/reward/abs_error', float(np.abs(reward - data['reward'].numpy()).mean()))
    if name == 'openloop':
      line_plot('openloop/reward/prediction', {
          'truth': data['reward'].numpy()[0], 'prediction': reward[0]}, step,
          f'reward, open loop after {OPEN_LOOP_CONTEXT} steps')
  open_state = tf.nest.map_structure(lambda x: x[:, OPEN_LOOP_CONTEXT:], states['openloop'])
  closed = tf.nest.map_structure(lambda x: x[:, OPEN_LOOP_CONTEXT:], posterior)
  for key, value in state_statistics(model.cell, open_state, closed).items():
    scalar(f'openloop/state/{key}', value)
  return scalars
