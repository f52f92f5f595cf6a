"""Step accounting and the trainer in-process: scores, tracing, checkpoints."""

import os
import types

import pytest

from planet.scripts import build
from planet.scripts import configs
from planet.tools import episodes
from planet.tools import schedule


def phases_of(params):
  return schedule.phases(params['train_steps'], params['test_steps'], params['checkpoint_every'])


def test_default_epoch_accounting():
  phases = phases_of(configs.resolve({}))
  assert [(p.name, p.steps) for p in phases] == [('train', 50000), ('test', 50)]
  cases = {  # global step: (phase, phase step, summary step)
      0: ('train', 0, 0),
      49950: ('train', 49950, 49950),
      50000: ('test', 0, 0),
      50050: ('train', 50000, 50000),
      100050: ('test', 50, 50000),
  }
  for step, expected in cases.items():
    phase, phase_step, summary_step = schedule.locate(phases, step)
    assert (phase.name, phase_step, summary_step) == expected


def test_debug_timeline_of_spec_7_9():
  params = configs.resolve({'max_steps': 30}, 'debug')
  phases = phases_of(params)
  spec, = build.collects(params, 'train')
  rows = []
  for step in range(0, 30, 5):
    phase, phase_step, _ = schedule.locate(phases, step)
    log = schedule.is_every(phase_step, 5, phase.log_every)
    report = schedule.is_every(phase_step, 5, phase.report_every)
    collect = phase.name == 'train' and schedule.binary(
        phase_step, 5, spec.after, spec.every, spec.until)
    rows.append((step, phase.name, phase_step, log, report, collect))
  assert rows == [
      (0, 'train', 0, False, False, False),
      (5, 'train', 5, True, False, False),
      (10, 'test', 0, False, False, False),
      (15, 'test', 5, True, True, False),
      (20, 'train', 10, False, False, True),
      (25, 'train', 15, True, False, False),
  ]


def test_phase_with_zero_steps_is_left_out():
  phases = phases_of(configs.resolve({'test_steps': 0}))
  assert [p.name for p in phases] == ['train']


@pytest.fixture
def finished(debug_run):
  run = debug_run(tasks=['dummy'], max_steps=60, seed=0)
  return run.logdir, run.trainer, run.scores


@pytest.mark.slow
def test_one_score_per_test_phase(finished):
  _, run, scores = finished
  assert len(scores) == 3  # epochs of 20 steps: test phases at 10-20, 30-40, 50-60
  # 20 decisions x 50 repeats of rewards U[0, 1): about 500 (std 6.5).
  assert all(450 < score < 550 for score in scores)
  assert int(run.step) == 60


@pytest.mark.slow
def test_hot_paths_trace_once(finished):
  _, run, _ = finished
  assert run.learner.functions()['train'].experimental_get_tracing_count() == 1
  assert run.learner.functions()['test'].experimental_get_tracing_count() == 1
  assert len(run._make_simulation.agents) == 1  # train and test collects share one agent
  # Episodes run in-graph (simulate_in_graph: True): one trace per simulation for all its episodes.
  assert len(run._simulations) == 2
  for simulation in run._simulations.values():
    assert simulation._loop.run_graph.experimental_get_tracing_count() == 1


@pytest.mark.slow
def test_optimizer_scalars_are_the_learners(finished):
  _, run, _ = finished
  now = types.SimpleNamespace(step=60, phase_step=10)
  scalars = run._log_scalars(now, {'loss': 1.0, 'grad_norm': 2500.0})
  assert scalars['optimizer/grad_norm'] == 2500.0
  assert scalars['optimizer/clipped_gradient_norm'] == 1000.0  # main_gradient_clipping
  assert scalars['optimizer/learning_rate'] == 1e-3  # main_learning_rate


@pytest.mark.slow
def test_episodes_and_checkpoint(finished):
  logdir, _, _ = finished
  # 1 seed + a collect at train phase steps 10, 20 (global 20, 40): 3; 1 seed + 3 test episodes: 4.
  assert episodes.count(os.path.join(logdir, 'train_episodes')) == 3
  assert episodes.count(os.path.join(logdir, 'test_episodes')) == 4
  assert os.path.exists(os.path.join(logdir, 'model.ckpt-60.index'))


def test_progress_line():
  progress = schedule.Progress(max_steps=10000, step=1000, every=60)
  assert progress.update('train', 1500, 7, now=progress._start_time + 30) is None  # too soon
  line = progress.update('train', 2000, 8, now=progress._start_time + 100)
  assert line == ('Progress: train phase, step 2,000/10,000 (20.0%), 8 train episodes, '
                  'last score none yet, 10.0 steps/s, about 13 min left.')
  progress.score = 123.456
  line = progress.update('test', 2050, 9, now=progress._start_time + 200)
  assert 'test phase' in line and 'last score 123.5' in line and '5.2 steps/s' in line
  assert 'about 25 min left' in line  # 7950 steps at 5.25 steps/s
