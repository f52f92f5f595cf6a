"""plot_scores: learning curves of runs against the paper's Table 1, and the figure the sweep draws."""

import os

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from conftest import write_tasks_run
from planet.scripts import configs
from planet.scripts import plot_scores
from planet.tools import events


def write_run(rundir, task, scores, episodes, start=0):
  """A run directory with params.yaml and test summaries at steps 1000 * (start + i), plus an image."""
  os.makedirs(rundir, exist_ok=True)
  configs.dump(configs.resolve({'tasks': [task]}), os.path.join(rundir, 'params.yaml'))
  writer = tf.summary.create_file_writer(os.path.join(rundir, 'test'))
  with writer.as_default():
    for index, (score, count) in enumerate(zip(scores, episodes)):
      step = 1000 * (start + index)
      tf.summary.scalar('trainer/test/score', score, step=step)
      tf.summary.scalar('dataset/episodes', count, step=step)
      tf.summary.image('openloop', np.zeros((1, 8, 8, 3), np.float32), step=step)
  writer.flush()
  writer.close()


def test_run_curve_and_aggregate(tmp_path):
  write_run(str(tmp_path / 'r1' / '00001'), 'cheetah_run', [10, 100, 300], [5, 6, 7])
  task, episodes, scores = plot_scores.run_curve(str(tmp_path / 'r1' / '00001'))
  assert task == 'cheetah_run' and episodes.tolist() == [5, 6, 7] and scores.tolist() == [10, 100, 300]
  grid, mean, low, high = plot_scores.aggregate([(np.array([5, 6, 7]), np.array([10, 100, 300])),
                                                 (np.array([5, 6, 7]), np.array([30, 200, 500]))])
  assert grid.tolist() == [5, 6, 7]
  assert mean.tolist() == [20, 150, 400] and low.tolist() == [10, 100, 300]
  assert high.tolist() == [30, 200, 500]
  assert plot_scores.PAPER['cheetah_run']['PlaNet'] == 662


def test_a_resumed_run_s_event_file_replaces_values_from_its_first_step_on(tmp_path):
  # A resumed run writes a second event file whose steps start again at its checkpoint; as in
  # TensorBoard, it replaces the older file's values from that step on.
  rundir = str(tmp_path / '00001')
  write_run(rundir, 'walker_walk', [1.0, 2.0, 3.0, 4.0], [5, 6, 7, 8])
  write_run(rundir, 'walker_walk', [20.0, 30.0], [6, 7], start=1)
  assert len(os.listdir(os.path.join(rundir, 'test'))) == 2

  def scores():
    found = events.read(os.path.join(rundir, 'test'), ['trainer/test/score'])
    assert events.last_step(os.path.join(rundir, 'test')) == found.last_step  # from the headers
    return found.last_step, {step: value for _, step, value in found.scalars['trainer/test/score']}

  assert scores() == (3000, {0: 1.0, 1000: 20.0, 2000: 30.0})
  _, episodes, values = plot_scores.run_curve(rundir)
  assert episodes.tolist() == [5, 6, 7] and values.tolist() == [1, 20, 30]
  # The last record of a killed writer can be cut short: the records before it still count.
  newest = sorted(os.listdir(os.path.join(rundir, 'test')))[-1]
  with open(os.path.join(rundir, 'test', newest), 'ab') as f:
    f.write(b'\x00\x01\x00\x00\x00\x00\x00\x00' + b'\x00' * 10)
  assert scores() == (3000, {0: 1.0, 1000: 20.0, 2000: 30.0})


@pytest.mark.parametrize('older, newer', [
    ('events.out.tfevents.1796300000.vm.77.9.v2', 'events.out.tfevents.1796300000.vm.77.10.v2'),
    ('events.out.tfevents.1796300000.vm.5000.0.v2', 'events.out.tfevents.1796300000.vm.4000.0.v2')])
def test_event_files_are_read_in_the_order_they_were_written(tmp_path, older, newer):
  # Two writers of one second: a name's counter that gains a digit (9, 10) or another process's id
  # sorts the newer file first by name; the first record's wall time, to the microsecond, does not.
  rundir = str(tmp_path / '00001')
  write_run(rundir, 'walker_walk', [1.0, 2.0, 3.0, 4.0], [5, 6, 7, 8])
  first, = os.listdir(os.path.join(rundir, 'test'))
  os.rename(os.path.join(rundir, 'test', first), os.path.join(rundir, 'test', older))
  write_run(rundir, 'walker_walk', [20.0, 30.0], [6, 7], start=1)
  second, = set(os.listdir(os.path.join(rundir, 'test'))) - {older}
  os.rename(os.path.join(rundir, 'test', second), os.path.join(rundir, 'test', newer))
  assert sorted([older, newer])[0] == newer  # the names alone would read the newer file first
  assert [os.path.basename(path) for path in events.files(os.path.join(rundir, 'test'))] == [older, newer]
  found = events.read(os.path.join(rundir, 'test'), ['trainer/test/score'])
  assert [(step, value) for _, step, value in found.scalars['trainer/test/score']] == [
      (0, 1.0), (1000, 20.0), (2000, 30.0)]


def test_plot_scores_png_at_200_dpi(tmp_path, capsys):
  write_run(str(tmp_path / 'r1' / '00001'), 'cheetah_run', [10, 100, 300], [5, 6, 7])
  write_run(str(tmp_path / 'r2' / '00001'), 'cheetah_run', [30, 200, 500], [5, 6, 7])
  write_run(str(tmp_path / 'r3' / '00001'), 'walker_walk', [50, 60], [5, 6])
  outfile = str(tmp_path / 'curves.png')
  assert plot_scores.main(['--logdirs', str(tmp_path / 'r*' / '00001'), '--outfile', outfile]) == 0
  assert capsys.readouterr().out == f'Wrote {outfile}: cheetah_run (2 runs), walker_walk (1 runs)\n'
  # 2 tasks x 4 in wide; 2 rows x 3 in + 0.4 in + 3 legend entries x 0.2 in high; 200 dpi.
  assert iio.imread(outfile).shape[:2] == (1400, 1600)
  assert sorted(os.listdir(tmp_path)) == ['curves.png', 'r1', 'r2', 'r3']  # no temp file left


def test_legends_sit_outside_the_data(tmp_path):
  import matplotlib.pyplot as plt
  runs = [(np.arange(5, 100, 5), np.linspace(50, 650, 19))] * 2
  experiments = ('planet', 'random_collection', 'deterministic', 'stochastic')
  curves = {'cheetah_run': {name: runs for name in experiments},
            'walker_walk': {name: runs[:1] for name in experiments}}
  fig = plot_scores.figure(curves)
  fig.canvas.draw()
  renderer = fig.canvas.get_renderer()
  legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
  assert len(fig.axes) == 4 and len(legends) == 2
  assert [t.get_text() for t in legends[0].get_texts()] == [
      'planet (2 runs)', 'random_collection (2 runs)', 'deterministic (2 runs)', 'stochastic (2 runs)',
      'PlaNet (paper) 662', 'D4PG (paper) 524']
  assert [t.get_text() for t in legends[1].get_texts()][-2:] == ['PlaNet (paper) 951', 'D4PG (paper) 968']
  for legend in legends:
    box = legend.get_window_extent(renderer)
    assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
  assert tuple(fig.get_size_inches()) == (8.0, 7.6)  # 2 x 4 in; 2 x 3 in + 0.4 in + 6 x 0.2 in
  plt.close(fig)
  plot_scores.plot(curves, str(tmp_path / 'curves.png'))
  assert iio.imread(str(tmp_path / 'curves.png')).shape[:2] == (1520, 1600)  # at 200 dpi


def test_plot_scores_vector_formats(tmp_path):
  write_run(str(tmp_path / 'r1' / '00001'), 'cup_catch', [10, 100, 300], [5, 6, 7])
  for name, head in (('curves.svg', b'<?xml'), ('curves.pdf', b'%PDF-')):
    outfile = str(tmp_path / name)
    assert plot_scores.main(['--logdirs', str(tmp_path / 'r1' / '00001'), '--outfile', outfile]) == 0
    with open(outfile, 'rb') as f:
      assert f.read(5) == head


def test_plot_scores_bad_outfile_stops_before_reading(tmp_path, capsys, monkeypatch):
  write_run(str(tmp_path / 'r1' / '00001'), 'cup_catch', [10], [5])

  def read(logdir):
    raise AssertionError('read a run before checking --outfile')
  monkeypatch.setattr(plot_scores, 'task_curves', read)
  missing = str(tmp_path / 'missing' / 'curves.png')
  assert plot_scores.main(['--logdirs', str(tmp_path / 'r1' / '00001'), '--outfile', missing]) == 2
  err = capsys.readouterr().err
  assert err == (f"error: --outfile {missing!r}: the folder {str(tmp_path / 'missing')!r} does not "
                 'exist\n')
  assert plot_scores.main(['--logdirs', str(tmp_path / 'r1' / '00001'),
                           '--outfile', str(tmp_path / 'curves.jpg')]) == 2
  assert capsys.readouterr().err.endswith(': allowed extensions: .png, .pdf, .svg\n')
  assert sorted(os.listdir(tmp_path)) == ['r1']


def test_baselines_are_drawn_as_gray_reference_lines(tmp_path, capsys):
  """scripts/baselines.py's CSV becomes a gray line per policy, labelled with its mean and spread, for
  the tasks it names; a CSV that cannot be read stops with one line and exit 2."""
  import matplotlib.pyplot as plt
  path = tmp_path / 'baselines.csv'
  path.write_text('task,policy,episodes,mean,std,seed\ncartpole_balance,random,10,245.0,77.8,0\n'
                  'cartpole_balance,zeros,10,750.4,26.0,0\ncheetah_run,random,10,3.5,1.0,0\n')
  baselines = plot_scores.read_baselines(str(path))
  assert baselines == {'cartpole_balance': {'random': (245.0, 77.8), 'zeros': (750.4, 26.0)},
                       'cheetah_run': {'random': (3.5, 1.0)}}
  runs = [(np.arange(5, 10), np.linspace(200, 900, 5))]
  fig = plot_scores.figure({'cartpole_balance': {'state': runs}}, baselines)
  labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
  assert labels == ['state (1 run)', 'random policy 245 +- 78', 'zeros policy 750 +- 26']
  gray = [line for line in fig.axes[0].get_lines() if line.get_color() == '0.5']
  assert sorted(line.get_ydata()[0] for line in gray) == [245.0, 750.4]
  assert tuple(fig.get_size_inches()) == (4.0, 7.0)  # 2 x 3 in + 0.4 in + 3 entries x 0.2 in
  plt.close(fig)
  write_run(str(tmp_path / 'r1' / '00001'), 'cheetah_run', [10, 100, 300], [5, 6, 7])
  outfile = str(tmp_path / 'curves.png')
  args = ['--logdirs', str(tmp_path / 'r1' / '00001'), '--outfile', outfile]
  assert plot_scores.main(args + ['--baselines', str(path), '--label', 'pixels']) == 0
  assert capsys.readouterr().out == f'Wrote {outfile}: cheetah_run (1 runs)\n'
  (tmp_path / 'bad.csv').write_text('a,b\n1,2\n')
  assert plot_scores.main(args + ['--baselines', str(tmp_path / 'bad.csv')]) == 2
  err = capsys.readouterr().err
  assert err.startswith(f"error: --baselines {str(tmp_path / 'bad.csv')!r}: cannot read it") and (
      err.count('\n') == 1)


def test_repeated_logdirs_draw_one_line_per_label(tmp_path, capsys, monkeypatch):
  """Variants side by side: each --logdirs with its --label is one line (mean over its runs); labels
  that do not pair up with the globs, or a glob without runs, stop with one line before drawing."""
  write_run(str(tmp_path / 'a1' / '00001'), 'cartpole_balance', [100, 300], [5, 6])
  write_run(str(tmp_path / 'a2' / '00001'), 'cartpole_balance', [300, 500], [5, 6])
  write_run(str(tmp_path / 'b1' / '00001'), 'cartpole_balance', [700, 900], [5, 6])
  drawn = {}
  monkeypatch.setattr(plot_scores, 'plot', lambda curves, outfile, baselines: drawn.update(curves))
  outfile = str(tmp_path / 'curves.png')
  a, b = str(tmp_path / 'a*' / '00001'), str(tmp_path / 'b*' / '00001')
  assert plot_scores.main(['--logdirs', a, '--label', 'scale 1', '--logdirs', b, '--label', 'scale 10',
                           '--outfile', outfile]) == 0
  assert capsys.readouterr().out == (
      f'Wrote {outfile}: cartpole_balance (scale 1: 2 runs, scale 10: 1 runs)\n')
  lines = drawn['cartpole_balance']
  assert list(lines) == ['scale 1', 'scale 10']
  assert plot_scores.aggregate(lines['scale 1'])[1].tolist() == [200, 400]
  assert plot_scores.aggregate(lines['scale 10'])[1].tolist() == [700, 900]
  drawn.clear()
  assert plot_scores.main(['--logdirs', a, '--logdirs', b, '--outfile', outfile]) == 0  # named by glob
  assert list(drawn['cartpole_balance']) == [a, b]
  drawn.clear()
  for args, error in (
      (['--logdirs', a, '--logdirs', b, '--label', 'one'],
       'error: --label given 1 times for 2 --logdirs: give one per --logdirs, or none\n'),
      (['--logdirs', a, '--label', 'x', '--logdirs', b, '--label', 'x'],
       "error: --label: each group needs its own name, got ['x', 'x']\n"),
      (['--logdirs', a, '--logdirs', str(tmp_path / 'c*')],
       f"error: no run with test scores matches {str(tmp_path / 'c*')!r}\n")):
    assert plot_scores.main(args + ['--outfile', outfile]) == 2
    assert capsys.readouterr().err == error
  assert not drawn and not os.path.exists(outfile)


def test_a_run_of_several_tasks_draws_each_task_in_its_panel(tmp_path, capsys):
  """One agent trained on two tasks: each task's own test return goes to that task's panel (beside a
  single-task run of it), against the episodes collected per task; not one joined 'a+b' column."""
  import matplotlib.pyplot as plt
  write_tasks_run(str(tmp_path / 'multi' / '00001'), {'cup_catch': [0, 100, 200, 300],
                                                      'walker_walk': [0, 10, 20, 30]}, [10, 12, 14, 16])
  write_run(str(tmp_path / 'single' / '00001'), 'walker_walk', [7, 8], [5, 6])
  curves = {}
  assert plot_scores.group_curves('ours', str(tmp_path / '*' / '00001'), curves) == 2
  assert sorted(curves) == ['cup_catch', 'walker_walk']
  (episodes, scores), = curves['cup_catch']['ours']
  assert episodes.tolist() == [5, 6, 7, 8] and scores.tolist() == [0, 100, 200, 300]
  multi, single = curves['walker_walk']['ours']
  assert multi[0].tolist() == [5, 6, 7, 8] and multi[1].tolist() == [0, 10, 20, 30]
  assert single[1].tolist() == [7, 8]
  outfile = str(tmp_path / 'curves.png')
  assert plot_scores.main(['--logdirs', str(tmp_path / '*' / '00001'), '--outfile', outfile]) == 0
  assert capsys.readouterr().out == f'Wrote {outfile}: cup_catch (1 runs), walker_walk (2 runs)\n'
  fig = plot_scores.figure(curves)
  assert len(fig.axes) == 4  # two tasks, two rows (episodes, environment steps)
  plt.close(fig)
