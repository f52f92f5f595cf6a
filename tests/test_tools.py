"""create_video, fetch_events and evaluate (spec 1.7)."""

import csv
import os

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from planet.scripts import configs
from planet.scripts import create_video
from planet.scripts import fetch_events


def strip(rows=2, cols=5):
  """Tile (r, c) is filled with 20 * c + r, so frames can be checked exactly."""
  image = np.zeros((rows * 64, cols * 64, 3), np.uint8)
  for r in range(rows):
    for c in range(cols):
      image[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64] = 20 * c + r
  return image


def test_frames_from_strip():
  frames = create_video.frames_from_strip(strip())
  assert frames.shape == (5, 64, 128, 3)
  for t in range(5):
    assert frames[t, :, :64].max() == frames[t, :, :64].min() == 20 * t
    assert frames[t, :, 64:].max() == 20 * t + 1


@pytest.mark.parametrize('extension', ['gif', 'mp4'])
def test_create_video(tmp_path, extension, capsys):
  source = str(tmp_path / 'strip.png')
  iio.imwrite(source, strip())
  target = str(tmp_path / f'out.{extension}')
  assert create_video.main(['-i', source, '-o', target, '-r', '5']) == 0
  frames = iio.imread(target, plugin='FFMPEG') if extension == 'mp4' else iio.imread(target)
  assert frames.shape[:3] == (5, 64, 128)
  if extension == 'gif':
    assert abs(int(frames[3, 10, 10, 0]) - 60) <= 1 and abs(int(frames[3, 10, 100, 0]) - 61) <= 1
  # An existing output is left alone without -f.
  before = os.path.getmtime(target)
  assert create_video.main(['-i', source, '-o', target]) == 0
  assert 'Skip rendering' in capsys.readouterr().out and os.path.getmtime(target) == before


def test_create_video_bad_input(tmp_path):
  source = str(tmp_path / 'strip.png')
  iio.imwrite(source, np.zeros((100, 64, 3), np.uint8))
  assert create_video.main(['-i', source, '-o', str(tmp_path / 'a.gif')]) == 2
  iio.imwrite(source, strip())
  assert create_video.main(['-i', source, '-o', str(tmp_path / 'a.avi')]) == 2


def write_run(rundir, task, scores, episodes):
  os.makedirs(rundir)
  configs.dump(configs.resolve({'tasks': [task]}), os.path.join(rundir, 'params.yaml'))
  writer = tf.summary.create_file_writer(os.path.join(rundir, 'test'))
  with writer.as_default():
    for step, (score, count) in enumerate(zip(scores, episodes)):
      tf.summary.scalar('trainer/test/score', score, step=1000 * step)
      tf.summary.scalar('dataset/episodes', count, step=1000 * step)
      tf.summary.scalar('objectives/image', -11000.0, step=1000 * step)
  writer.flush()


def test_fetch_events(tmp_path):
  write_run(str(tmp_path / 'logs' / 'a' / '00001'), 'cheetah_run', [1.5, 2.5, 4.0], [5, 6, 7])
  write_run(str(tmp_path / 'logs' / 'b' / '00001'), 'cheetah_run', [3.0], [5])
  outdir = str(tmp_path / 'csv')
  assert fetch_events.main(['--logdirs', str(tmp_path / 'logs' / '*' / '00001'),
                            '--outdir', outdir]) == 0
  names = sorted(os.listdir(outdir))
  assert len(names) == 2 and all(n.endswith('___trainer_test_score.csv') for n in names)
  assert names[0] == fetch_events.clean(str(tmp_path / 'logs' / 'a' / '00001')) + \
      '___trainer_test_score.csv'
  with open(os.path.join(outdir, names[0])) as f:
    rows = list(csv.reader(f))
  assert rows[0] == ['wall_time', 'step', 'value']
  assert [(int(r[1]), float(r[2])) for r in rows[1:]] == [(0, 1.5), (1000, 2.5), (2000, 4.0)]
  # Existing outputs are skipped unless --force True; a tag glob picks other tags.
  assert fetch_events.main(['--logdirs', str(tmp_path / 'logs' / 'a' / '00001'), '--outdir', outdir,
                            '--tags', 'objectives/*']) == 0
  assert len(os.listdir(outdir)) == 2
  assert fetch_events.main(['--logdirs', str(tmp_path / 'logs' / 'a' / '00001'), '--outdir', outdir,
                            '--tags', 'objectives/*', '--force', 'True']) == 0
  assert len(os.listdir(outdir)) == 3
  assert fetch_events.main(['--logdirs', str(tmp_path / 'nothing*'), '--outdir', outdir]) == 2


def test_fetch_events_keeps_every_event(tmp_path):
  # TensorBoard keeps a sample of 10 tensors per tag by default; an export must keep them all.
  write_run(str(tmp_path / 'long' / '00001'), 'cheetah_run', list(range(25)), list(range(25)))
  rows = fetch_events.scalars(str(tmp_path / 'long' / '00001' / 'test'), 'trainer*score')
  assert [value for _, _, value in rows['trainer/test/score']] == list(range(25))


def test_evaluate_a_checkpoint(tmp_path, capsys):
  from planet.scripts import evaluate
  from planet.scripts import train
  params = configs.resolve({'tasks': ['dummy'], 'max_steps': 30, 'seed': 0}, 'debug')
  logdir = str(tmp_path / 'run')
  list(train.process(params, logdir))
  video = str(tmp_path / 'eval.gif')
  assert evaluate.main(['--logdir', logdir, '--episodes', '2', '--video', video]) == 0
  out = capsys.readouterr().out
  assert 'dummy: return ' in out and 'over 2 episodes' in out
  mean, std = (float(x) for x in out.split('return ')[1].split(' over')[0].split(' +- '))
  assert 400 < mean < 600 and std > 0  # two different env seeds
  frames = iio.imread(video)
  assert frames.shape[:3] == (21, 64, 128)  # real frames beside the model's prediction
  assert evaluate.main(['--logdir', str(tmp_path)]) == 2
