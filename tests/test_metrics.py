"""metrics.jsonl: whole lines only, each step once across a kill and a resume, and the readers that prefer
it to the event files (plot_scores, the results, fetch_events) and fall back to those without it."""

import csv
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from planet.scripts import configs
from planet.scripts import fetch_events
from planet.scripts import plot_scores
from planet.scripts import results
from planet.tools import metrics


def steps(path, phase):
  return [line['step'] for line in metrics.lines(path) if line['phase'] == phase]


def test_lines_hold_every_scalar_of_a_step_and_reopening_skips_written_steps(tmp_path):
  path = str(tmp_path / 'metrics.jsonl')
  writer = metrics.Writer(path)
  assert writer.last == {} and writer.due('test', 0)
  assert writer.write('train', 0, {'loss': 2.5, 'step': 0}, wall_time=100.0)
  assert writer.write('test', 5, {'trainer/test/score': 812.25, 'loss': 3.0}, wall_time=101.0)
  assert writer.write('train', 10, {'loss': 1.5, 'step': 10}, wall_time=102.0)
  assert writer.write('test', 15, {'trainer/test/score': math.nan}, wall_time=103.0)
  writer.close()
  with open(path) as f:
    assert json.loads(f.readline()) == {'step': 0, 'phase': 'train', 'time': 100.0, 'loss': 2.5,
                                        'scalar/step': 0.0}  # the `step` summary kept apart
  reopened = metrics.Writer(path)  # as a resumed run opens it
  assert reopened.last == {'train': 10, 'test': 15}
  assert reopened.newest['train'] == {'loss': 1.5, 'step': 10.0}
  assert not reopened.write('test', 5, {'trainer/test/score': 0.0})  # replayed steps
  assert not reopened.write('train', 10, {'loss': 0.0})
  assert reopened.write('train', 20, {'loss': 1.0}, wall_time=104.0)
  reopened.close()
  assert steps(path, 'train') == [0, 10, 20] and steps(path, 'test') == [5, 15]
  with open(path, 'a') as f:  # written by another tool, without spaces
    f.write('{"step":25,"phase":"test","time":105.0,"loss":0.5}\n')
  assert [line['step'] for line in metrics.lines(path, 'test')] == [5, 15, 25]
  assert [line['step'] for line in metrics.lines(path, 'train')] == [0, 10, 20]
  found = metrics.read(path)
  assert found['train']['step'] == [(100.0, 0, 0.0), (102.0, 10, 10.0)]
  assert found['test']['loss'] == [(101.0, 5, 3.0), (105.0, 25, 0.5)]
  score = found['test']['trainer/test/score']
  assert score[0] == (101.0, 5, 812.25) and math.isnan(score[1][2])


def test_a_line_cut_short_by_a_kill_is_ignored_and_cut_off_on_reopen(tmp_path):
  path = str(tmp_path / 'metrics.jsonl')
  writer = metrics.Writer(path)
  writer.write('test', 5, {'trainer/test/score': 1.0})
  writer.write('test', 15, {'trainer/test/score': 2.0})
  writer.close()
  with open(path, 'ab') as f:  # a kill in the middle of the line of step 25
    f.write(b'{"step": 25, "phase": "test", "time": 1.0, "trainer/test/sc')
  assert steps(path, 'test') == [5, 15]  # readers ignore the half line
  assert metrics.scalars(str(tmp_path), 'test')['trainer/test/score'][-1][1:] == (15, 2.0)
  resumed = metrics.Writer(path)
  assert resumed.last == {'test': 15} and resumed.newest['test'] == {'trainer/test/score': 2.0}
  assert resumed.write('test', 25, {'trainer/test/score': 3.0})
  resumed.close()
  with open(path, 'rb') as f:
    text = f.read()
  assert text.endswith(b'\n') and text.count(b'\n') == 3
  assert steps(path, 'test') == [5, 15, 25]


def test_a_run_begun_without_metrics_jsonl_gets_its_earlier_values_first(tmp_path):
  path = str(tmp_path / 'metrics.jsonl')
  history = {'train': {'loss': [(10.0, 0, 4.0), (30.0, 20, 3.0)], 'step': [(10.0, 0, 0.0)]},
             'test': {'trainer/test/score': [(20.0, 5, 7.0)], 'dataset/episodes': [(20.5, 5, 2.0)]}}
  writer = metrics.Writer(path, lambda: history)
  assert writer.last == {'train': 20, 'test': 5}
  writer.write('test', 15, {'trainer/test/score': 8.0}, wall_time=40.0)
  writer.close()
  assert [(line['phase'], line['step'], line['time']) for line in metrics.lines(path)] == [
      ('train', 0, 10.0), ('test', 5, 20.0), ('train', 20, 30.0), ('test', 15, 40.0)]
  assert metrics.lines(path)[1] == {'step': 5, 'phase': 'test', 'time': 20.0,
                                    'trainer/test/score': 7.0, 'dataset/episodes': 2.0}
  assert metrics.lines(path)[0]['scalar/step'] == 0.0
  # Only a file that does not exist yet is filled in: an existing one is the record.
  metrics.Writer(path, lambda: pytest.fail('read the event files of a run with metrics.jsonl')).close()
  assert steps(path, 'test') == [5, 15]


def write_events(folder, rows, image=True):
  """Event files of `rows`, [(step, {tag: value})], with an image per step as the trainer writes."""
  writer = tf.summary.create_file_writer(folder)
  with writer.as_default():
    for step, values in rows:
      for tag, value in values.items():
        tf.summary.scalar(tag, value, step=step)
      if image:
        tf.summary.image('openloop', np.zeros((1, 8, 8, 3), np.float32), step=step)
  writer.close()


def write_run(rundir, task, test_rows, train_rows=(), jsonl=True, events=True):
  os.makedirs(rundir, exist_ok=True)
  configs.dump(configs.resolve({'tasks': [task]}), os.path.join(rundir, 'params.yaml'))
  for phase, rows in (('test', test_rows), ('train', train_rows)):
    if events:
      write_events(os.path.join(rundir, phase), rows)
  if jsonl:
    writer = metrics.Writer(os.path.join(rundir, metrics.FILENAME))
    for phase, rows in (('test', test_rows), ('train', train_rows)):
      for step, values in rows:
        writer.write(phase, step, values, wall_time=1000.0 + step)
    writer.close()


def scores(values):
  return [(1000 * i, {'trainer/test/score': v, 'dataset/episodes': 5 + i}) for i, v in enumerate(values)]


def test_plot_scores_and_the_results_read_metrics_jsonl_and_fall_back_to_events(tmp_path):
  # One run with metrics.jsonl only, one with event files only (an earlier version's), one with both
  # that disagree: metrics.jsonl wins.
  write_run(str(tmp_path / 'planet' / 'cheetah_run' / '00001'), 'cheetah_run',
            scores([100.0, 300.0]), events=False)
  write_run(str(tmp_path / 'planet' / 'cheetah_run' / '00002'), 'cheetah_run',
            scores([50.0, 150.0, 250.0]), jsonl=False)
  both = str(tmp_path / 'planet' / 'cheetah_run' / '00003')
  write_run(both, 'cheetah_run', scores([1.0, 2.0]), jsonl=False)
  write_run(both, 'cheetah_run', scores([10.0, 20.0]), events=False)
  for index in ('00001', '00002', '00003'):
    open(tmp_path / 'planet' / 'cheetah_run' / index / 'DONE', 'w').close()
  curves = [plot_scores.run_curve(str(tmp_path / 'planet' / 'cheetah_run' / f'0000{i}'))
            for i in (1, 2, 3)]
  assert [(e.tolist(), s.tolist()) for _, e, s in curves] == [
      ([5, 6], [100.0, 300.0]), ([5, 6, 7], [50.0, 150.0, 250.0]), ([5, 6], [10.0, 20.0])]
  rows, _ = results.summarize(str(tmp_path))
  assert rows[0]['run_scores'] == '00001:200.0;00002:150.0;00003:15.0'
  assert rows[0]['test_episodes'] == 2 and rows[0]['runs_finished'] == 3


def read_csv(path):
  with open(path) as f:
    rows = list(csv.reader(f))
  assert rows[0] == ['wall_time', 'step', 'value']
  return [(float(row[0]), int(row[1]), float(row[2])) for row in rows[1:]]


def test_fetch_events_reads_metrics_jsonl_for_the_phases_and_events_for_other_folders(tmp_path):
  run = tmp_path / 'logs' / '00001'
  write_run(str(run), 'cheetah_run', scores([7.0, 8.0]), [(0, {'loss': 3.0}), (10, {'loss': 2.0})],
            events=False)
  write_events(str(run / 'eval'), [(3, {'loss': 9.0})])  # a folder of the user's
  write_events(str(run / 'test'), [(0, {'trainer/test/score': -1.0})], image=False)  # not read
  outdir = tmp_path / 'csv'
  assert fetch_events.main(['--logdirs', str(run), '--outdir', str(outdir), '--tags', '*s*']) == 0
  prefix = fetch_events.clean(str(run))
  assert sorted(os.listdir(outdir)) == [
      f'{prefix}___eval___loss.csv', f'{prefix}___test___dataset_episodes.csv',
      f'{prefix}___test___trainer_test_score.csv', f'{prefix}___train___loss.csv']
  assert read_csv(outdir / f'{prefix}___test___trainer_test_score.csv') == [
      (1000.0, 0, 7.0), (2000.0, 1000, 8.0)]
  assert read_csv(outdir / f'{prefix}___train___loss.csv') == [(1000.0, 0, 3.0), (1010.0, 10, 2.0)]
  assert [row[1:] for row in read_csv(outdir / f'{prefix}___eval___loss.csv')] == [(3, 9.0)]
