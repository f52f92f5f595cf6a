"""create_video and fetch_events; evaluate and plot_scores have test_evaluate.py and test_plot_scores.py."""

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
  assert sorted(os.listdir(tmp_path)) == sorted([f'out.{extension}', 'strip.png'])  # no temp files
  # An existing output is left alone without -f.
  before = os.path.getmtime(target)
  assert create_video.main(['-i', source, '-o', target]) == 0
  assert 'Skip rendering' in capsys.readouterr().out and os.path.getmtime(target) == before


def test_mp4_keeps_the_frame_size(tmp_path, caplog):
  """evaluate's video at --scale 4 is 276 x 512: written as it is (no resize to multiples of 16, no
  warning); an odd size gets one edge row or column."""
  frames = np.random.default_rng(0).integers(0, 256, (3, 276, 512, 3), dtype=np.uint8)
  create_video.write(frames, str(tmp_path / 'a.mp4'), 20)
  assert iio.imread(str(tmp_path / 'a.mp4'), plugin='FFMPEG').shape == (3, 276, 512, 3)
  create_video.write(frames[:, :21, :33], str(tmp_path / 'b.mp4'), 20)
  assert iio.imread(str(tmp_path / 'b.mp4'), plugin='FFMPEG').shape == (3, 22, 34, 3)
  assert not [r for r in caplog.records if 'macro_block_size' in r.getMessage()]


def test_create_video_bad_strip(tmp_path, capsys):
  source = str(tmp_path / 'strip.png')
  iio.imwrite(source, np.zeros((100, 64, 3), np.uint8))
  assert create_video.main(['-i', source, '-o', str(tmp_path / 'a.gif')]) == 2
  assert capsys.readouterr().err == (
      f"error: -i/--image-path {source!r}: strip of 64x100 pixels is not a grid of 64x64 tiles; "
      "set -x and -y to the tile size.\n")
  assert sorted(os.listdir(tmp_path)) == ['strip.png']


@pytest.mark.parametrize('flags, message', [
    (['-x', '0'], '-x/--tile-width 0: allowed: a positive number of pixels (the size of one tile).'),
    (['-y', '-64'], '-y/--tile-height -64: allowed: a positive number of pixels (the size of one tile).'),
    (['-r', '0'], '-r/--fps 0.0: allowed: a positive number of frames per second.'),
    (['-r', '-5'], '-r/--fps -5.0: allowed: a positive number of frames per second.'),
    (['-i', 'missing.png'], "-i/--image-path 'missing.png': no such file."),
    (['-o', 'a.avi'], "-o/--animation-path 'a.avi': allowed: a path ending in .gif or .mp4."),
    (['-o', 'no/such/folder/a.gif'], "-o/--animation-path 'no/such/folder/a.gif': the folder {tmp}/no/such/"
                                     "folder does not exist."),
])
def test_create_video_bad_flags(tmp_path, monkeypatch, capsys, flags, message):
  monkeypatch.chdir(tmp_path)
  iio.imwrite('strip.png', strip())
  assert create_video.main(['-i', 'strip.png', '-o', 'a.gif', *flags]) == 2
  assert capsys.readouterr().err == f'error: {message.format(tmp=tmp_path)}\n'
  assert os.listdir(tmp_path) == ['strip.png']  # nothing written


def test_create_video_flag_type_error_is_one_line(capsys):
  with pytest.raises(SystemExit) as exit_info:
    create_video.main(['-i', 'strip.png', '-o', 'a.gif', '-x', 'wide'])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == "error: argument -x/--tile-width: invalid int value: 'wide'\n"


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


def read_csv(path):
  with open(path) as f:
    rows = list(csv.reader(f))
  assert rows[0] == ['wall_time', 'step', 'value']
  return [(int(row[1]), float(row[2])) for row in rows[1:]]


def test_fetch_events(tmp_path, capsys):
  write_run(str(tmp_path / 'logs' / 'a' / '00001'), 'cheetah_run', [1.5, 2.5, 4.0], [5, 6, 7])
  write_run(str(tmp_path / 'logs' / 'b' / '00001'), 'cheetah_run', [3.0], [5])
  outdir = str(tmp_path / 'csv')
  assert fetch_events.main(['--logdirs', str(tmp_path / 'logs' / '*' / '00001'),
                            '--outdir', outdir]) == 0
  run_a = fetch_events.clean(str(tmp_path / 'logs' / 'a' / '00001'))
  run_b = fetch_events.clean(str(tmp_path / 'logs' / 'b' / '00001'))
  assert sorted(os.listdir(outdir)) == [
      f'{run_a}___test___trainer_test_score.csv', f'{run_b}___test___trainer_test_score.csv']
  assert read_csv(os.path.join(outdir, f'{run_a}___test___trainer_test_score.csv')) == [
      (0, 1.5), (1000, 2.5), (2000, 4.0)]
  # Existing outputs are skipped unless --force True; a tag glob picks other tags.
  assert fetch_events.main(['--logdirs', str(tmp_path / 'logs' / 'a' / '00001'), '--outdir', outdir,
                            '--tags', 'objectives/*']) == 0
  assert len(os.listdir(outdir)) == 2
  assert fetch_events.main(['--logdirs', str(tmp_path / 'logs' / 'a' / '00001'), '--outdir', outdir,
                            '--tags', 'objectives/*', '--force', 'True']) == 0
  assert f'{run_a}___test___objectives_image.csv' in os.listdir(outdir)
  assert len(os.listdir(outdir)) == 3
  # A log directory whose cleaned name is a prefix of another's is not taken for already exported.
  write_run(str(tmp_path / 'logs' / 'a' / '0000'), 'cheetah_run', [9.0], [5])
  capsys.readouterr()
  assert fetch_events.main(['--logdirs', str(tmp_path / 'logs' / 'a' / '0000'), '--outdir', outdir]) == 0
  assert capsys.readouterr().out == f'Exported 1 CSV files of {tmp_path / "logs" / "a" / "0000"}.\n'
  assert fetch_events.main(['--logdirs', str(tmp_path / 'nothing*'), '--outdir', outdir]) == 2
  assert capsys.readouterr().err == f"error: --logdirs {str(tmp_path / 'nothing*')!r}: no directory matches.\n"


def test_fetch_events_keeps_train_and_test_apart_and_skips_non_scalars(tmp_path, capsys):
  run = tmp_path / 'logs' / 'c' / '00001'
  for folder, losses in (('train', [3.0, 2.0]), ('test', [5.0, 4.0])):
    writer = tf.summary.create_file_writer(str(run / folder))
    with writer.as_default():
      for index, loss in enumerate(losses):
        tf.summary.scalar('loss', loss, step=10 * index)
        tf.summary.image('data/image', np.zeros((1, 4, 4, 3), np.float32), step=10 * index)
        tf.summary.histogram('weights', [1.0, 2.0, 3.0], step=10 * index)
        tf.summary.text('note', 'hello', step=10 * index)
    writer.flush()
  outdir = tmp_path / 'csv'
  assert fetch_events.main(['--logdirs', str(run), '--outdir', str(outdir), '--tags', '*']) == 0
  assert capsys.readouterr().out == f'Exported 2 CSV files of {run} (skipped 3 non-scalar tags).\n'
  prefix = fetch_events.clean(str(run))
  assert sorted(os.listdir(outdir)) == [f'{prefix}___test___loss.csv', f'{prefix}___train___loss.csv']
  assert read_csv(outdir / f'{prefix}___train___loss.csv') == [(0, 3.0), (10, 2.0)]
  assert read_csv(outdir / f'{prefix}___test___loss.csv') == [(0, 5.0), (10, 4.0)]
  # Events directly in the log directory: the folder part is `.`, cleaned to `_` (___ _ ___).
  assert fetch_events.main(['--logdirs', str(run / 'train'), '--outdir', str(outdir),
                            '--tags', 'loss']) == 0
  assert read_csv(outdir / f'{fetch_events.clean(str(run / "train"))}_______loss.csv') == [
      (0, 3.0), (10, 2.0)]


@pytest.mark.parametrize('flags, message', [
    (['--workers', '0'], '--workers 0: allowed: a positive number of threads.'),
    (['--workers', '-4'], '--workers -4: allowed: a positive number of threads.'),
    (['--outdir', 'afile'], "--outdir 'afile' is a file; allowed: a folder (it is created if missing)."),
])
def test_fetch_events_bad_flags(tmp_path, monkeypatch, capsys, flags, message):
  monkeypatch.chdir(tmp_path)
  write_run(os.path.join('logs', 'a', '00001'), 'cheetah_run', [1.5], [5])
  open('afile', 'w').close()
  assert fetch_events.main(['--logdirs', 'logs/*/00001', '--outdir', 'csv', *flags]) == 2
  assert capsys.readouterr() == ('', f'error: {message}\n')
  assert sorted(os.listdir(tmp_path)) == ['afile', 'logs'] and os.path.getsize('afile') == 0


def test_fetch_events_keeps_every_event(tmp_path):
  # TensorBoard keeps a sample of 10 tensors per tag by default; an export must keep them all.
  write_run(str(tmp_path / 'long' / '00001'), 'cheetah_run', list(range(25)), list(range(25)))
  rows = fetch_events.scalars(str(tmp_path / 'long' / '00001' / 'test'), 'trainer*score')
  assert [value for _, _, value in rows['trainer/test/score']] == list(range(25))


