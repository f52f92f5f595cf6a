"""Rich summaries: strip layout, GIF encoding, what log_model writes, state statistics."""

import imageio.v3 as iio
import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from planet.scripts import build
from planet.scripts import configs
from planet.tools import summaries
from planet.training import writers


def test_strip_layout():
  video = np.zeros((3, 4, 2, 2, 3))
  for b in range(3):
    for t in range(4):
      video[b, t] = (10 * b + t) / 255
  image = summaries.strip(video)
  assert image.shape == (6, 8, 3) and image.dtype == np.uint8
  assert image[2, 6, 0] == 13 and image[5, 1, 0] == 20  # row b, column t
  assert summaries.strip(np.zeros((20, 200, 2, 2, 3))).shape == (20, 200, 3)  # 10 rows, 100 cols


def test_gif_roundtrip():
  frames = np.zeros((6, 8, 8, 3), np.uint8)
  frames[:, :, :, 0] = np.arange(6)[:, None, None] * 40
  decoded = iio.imread(summaries.encode_gif(frames))
  assert decoded.shape[:3] == (6, 8, 8)
  assert [int(f[0, 0, 0]) for f in decoded] == [0, 40, 80, 120, 160, 200]


def test_state_statistics_of_known_gaussians():
  from planet.models import base
  prior = {'mean': tf.zeros([1, 1, 2]), 'stddev': tf.ones([1, 1, 2])}
  posterior = {'mean': tf.ones([1, 1, 2]), 'stddev': tf.ones([1, 1, 2])}
  stats = summaries.state_statistics(base.Base(), prior, posterior)
  assert abs(stats['prior_entropy'] - 2 * 0.5 * np.log(2 * np.pi * np.e)) < 1e-5
  assert stats['prior_std'] == 1.0 and abs(stats['divergence'] - 1.0) < 1e-6  # 2 dims x 1/2


def logged(model, data, step, folder):
  """The event accumulator of what log_model wrote for `data` at `step` into `folder`."""
  writer = tf.summary.create_file_writer(str(folder))
  with writer.as_default():
    summaries.log_model(model, data, step=step)
  writer.flush()
  accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={'tensors': 0})
  accumulator.Reload()
  return accumulator


def test_log_model_writes_every_summary(tmp_path):
  params = configs.resolve({}, 'debug')
  model = build.model(params, action_size=2)
  data = {'image': tf.random.uniform([3, 8, 64, 64, 3]) - 0.5,
          'action': tf.random.uniform([3, 8, 2], -1, 1), 'reward': tf.random.uniform([3, 8])}
  accumulator = logged(model, data, 7, tmp_path)
  tags = set(accumulator.Tags()['tensors'])
  for group in ('closedloop', 'openloop'):
    for name in ('prediction', 'error', 'change', 'animation'):
      assert f'{group}/image/{name}' in tags
    for name in ('prior_entropy', 'prior_std', 'posterior_entropy', 'posterior_std', 'divergence'):
      assert f'{group}/state/{name}' in tags
  assert 'openloop/reward/prediction' in tags and 'data/image' in tags

  def payload(tag):
    event, = accumulator.Tensors(tag)
    assert event.step == 7
    return tensor_util.make_ndarray(event.tensor_proto)

  width, height, png = payload('data/image')
  assert (int(width), int(height)) == (8 * 64, 3 * 64)
  assert iio.imread(png).shape == (3 * 64, 8 * 64, 3)
  width, height, gif = payload('openloop/image/animation')
  frames = iio.imread(gif)
  assert frames.shape[:3] == (8, 128, 3 * 64)  # truth above prediction, sequences side by side


def test_log_model_of_a_state_model_writes_no_images(tmp_path):
  """A model that sees the state vector predicts no images: no image strips or GIFs, the vector's
  error instead, and the same latent statistics and reward summaries."""
  params = configs.resolve({'tasks': ['cartpole_balance'], 'observations': ['state']}, 'debug')
  model = build.model(params, action_size=1, shapes={'position': (3,), 'velocity': (2,)})
  data = {'position': tf.random.normal([3, 8, 3]), 'velocity': tf.random.normal([3, 8, 2]),
          'action': tf.random.uniform([3, 8, 1], -1, 1), 'reward': tf.random.uniform([3, 8])}
  accumulator = logged(model, data, 3, tmp_path)
  tags = set(accumulator.Tags()['tensors'])
  assert not [tag for tag in tags if 'image' in tag]
  for group in ('closedloop', 'openloop'):
    assert {f'{group}/vector/abs_error', f'{group}/reward/abs_error', f'{group}/state/divergence'} <= tags
  event, = accumulator.Tensors('closedloop/vector/abs_error')
  assert event.step == 3 and float(tensor_util.make_ndarray(event.tensor_proto)) > 0


def test_a_reopened_writer_skips_written_steps(tmp_path):
  writer = writers.Writer(str(tmp_path))
  assert writer.written == -1
  for step, score in [(5, 10.0), (15, 20.5), (25, 31.25)]:
    assert writer.write(step, lambda: tf.summary.scalar('trainer/test/score', score, step=step))
  assert writer.write(26, lambda: tf.summary.image('frames', tf.zeros([1, 4, 4, 3]), step=26))
  writer.close()
  reopened = writers.Writer(str(tmp_path))  # as a resumed run opens it
  assert reopened.written == 26
  assert not reopened.write(15, lambda: tf.summary.scalar('trainer/test/score', 0.0, step=15))
  assert reopened.write(35, lambda: tf.summary.scalar('trainer/test/score', 40.0, step=35))
  reopened.close()
  accumulator = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={'tensors': 0})
  accumulator.Reload()
  # Sorted: two event files made within one second may be read in either order.
  assert sorted((e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
                for e in accumulator.Tensors('trainer/test/score')) == [
              (5, 10.0), (15, 20.5), (25, 31.25), (35, 40.0)]
