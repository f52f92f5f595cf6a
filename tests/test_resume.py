"""Runs that are killed and resumed end as if never killed; faults that can be survived are survived;
failed runs are never reported as completed; bad values stop before anything is written."""

import glob
import hashlib
import logging
import os
import pathlib
import shutil

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from planet.control import simulate
from planet.scripts import build
from planet.scripts import configs
from planet.scripts import train
from planet.tools import episodes
from planet.tools import metrics
from planet.tools import seeding

pytestmark = pytest.mark.slow

# Epochs of 20 steps: train [20e, 20e + 10), test [20e + 10, 20e + 20). A score at global steps 15, 35,
# ..., 95; train collections at 20, 40, 60, 80; checkpoints at 40, 80 and the end (100).
PARAMS = {'tasks': ['dummy'], 'max_steps': 100, 'checkpoint_every': 20, 'seed': 7,
          'isolate_envs': 'none'}


def run(logdir, stop_after=None, **overrides):
  """Runs the run in `logdir`; with `stop_after`, abandons it after that many scores, as a kill then
  would (no final checkpoint). Returns the scores it yielded."""
  params = configs.resolve({**PARAMS, **overrides}, 'debug')
  scores = []
  process = train.process(params, str(logdir))
  for score in process:
    scores.append(score)
    if stop_after and len(scores) >= stop_after:
      process.close()
      break
  return scores


def digests(logdir):
  result = []
  for phase in ('train', 'test'):
    for path in episodes.filenames(os.path.join(logdir, f'{phase}_episodes')):
      episode = episodes.load(path)
      result.append(hashlib.sha1(b''.join(
          episode[k].tobytes() for k in ('image', 'action', 'reward'))).hexdigest())
  return result


def scores_in_events(logdir):
  accumulator = event_accumulator.EventAccumulator(
      os.path.join(logdir, 'test'), size_guidance={'tensors': 0})
  accumulator.Reload()
  return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
          for e in accumulator.Tensors('trainer/test/score')]


def metrics_lines(logdir):
  """The lines of a run's metrics.jsonl, which ends with a whole line."""
  path = os.path.join(logdir, metrics.FILENAME)
  with open(path, 'rb') as f:
    assert f.read().endswith(b'\n')
  return metrics.lines(path)


def scores_in_metrics(logdir):
  return [(line['step'], line['trainer/test/score']) for line in metrics_lines(logdir)
          if 'trainer/test/score' in line]


def checkpoint_steps(logdir):
  return sorted(int(p.split('-')[-1].split('.')[0]) for p in glob.glob(f'{logdir}/model.ckpt-*.index'))


@pytest.fixture
def uninterrupted(debug_run):
  reference = debug_run(**PARAMS)
  return pathlib.Path(reference.logdir), reference.scores


@pytest.fixture(scope='module')
def stopped(tmp_path_factory):
  """A run killed after its fourth score (global step 75; checkpoints at 40 and 80)."""
  logdir = tmp_path_factory.mktemp('stopped')
  run(logdir, stop_after=4)
  return logdir


@pytest.fixture
def copy_of_stopped(stopped, tmp_path):
  """A copy of the stopped run for one test to damage and resume."""
  target = tmp_path / 'run'
  shutil.copytree(stopped, target)
  return target


@pytest.fixture(scope='module')
def interrupted(tmp_path_factory):
  """Killed after its first score (before any checkpoint), then after the score at step 55 (15 steps
  after the checkpoint at 40), then run to the end."""
  logdir = tmp_path_factory.mktemp('interrupted')
  attempts = [run(logdir, stop_after=1), run(logdir, stop_after=3), run(logdir)]
  return logdir, attempts


def test_uninterrupted_counts(uninterrupted):
  logdir, scores = uninterrupted
  assert len(scores) == 5
  assert episodes.count(str(logdir / 'train_episodes')) == 5  # 1 seed + collections at 20 .. 80
  assert episodes.count(str(logdir / 'test_episodes')) == 6  # 1 seed + 5 test episodes
  assert len(set(digests(logdir))) == 11
  assert [step for step, _ in scores_in_events(logdir)] == [5, 15, 25, 35, 45]
  assert scores_in_metrics(logdir) == list(zip([5, 15, 25, 35, 45], scores))
  # A line per phase and summary step with every scalar: the trainer's and the model summaries'.
  lines = metrics_lines(logdir)
  assert [(line['phase'], line['step']) for line in lines if line['phase'] == 'test'] == [
      ('test', step) for step in (5, 15, 25, 35, 45)]
  assert {'trainer/test/score', 'dataset/episodes', 'objectives/image', 'loss', 'scalar/step',
          'closedloop/state/divergence', 'openloop/reward/abs_error'} <= set(lines[-1])


def test_resume_keeps_the_episode_counts(uninterrupted, interrupted):
  logdir, attempts = interrupted
  assert [len(a) for a in attempts] == [1, 3, 3]  # replayed scores are yielded again
  for phase in ('train', 'test'):
    assert episodes.count(str(logdir / f'{phase}_episodes')) == episodes.count(
        str(uninterrupted[0] / f'{phase}_episodes'))


def test_resume_draws_fresh_episodes(interrupted):
  logdir, _ = interrupted
  found = digests(logdir)
  assert len(found) == 11 and len(set(found)) == 11


def test_resume_writes_every_score_once_and_reads_back_collected_ones(interrupted):
  logdir, attempts = interrupted
  events = scores_in_events(logdir)
  assert [step for step, _ in events] == [5, 15, 25, 35, 45]
  # The scores replayed after a resume come from the test episodes already on disk.
  assert attempts[1][0] == pytest.approx(attempts[0][0])
  assert attempts[2][0] == pytest.approx(attempts[1][2])
  assert [value for _, value in events] == pytest.approx(attempts[1] + attempts[2][1:])
  assert checkpoint_steps(logdir) == [40, 80, 100]
  # metrics.jsonl across the two kills: every step once, the lines an uninterrupted run writes.
  assert scores_in_metrics(logdir) == list(zip([5, 15, 25, 35, 45], attempts[1] + attempts[2][1:]))


def test_metrics_jsonl_across_kills_has_the_lines_of_an_uninterrupted_run(uninterrupted, interrupted):
  def layout(logdir):
    return [(line['phase'], line['step'], sorted(line)) for line in metrics_lines(logdir)]
  assert layout(interrupted[0]) == layout(uninterrupted[0])


def test_episode_seeds_follow_the_position():
  assert seeding.derive(7, 'train_main_dummy', 3, 0) == seeding.derive(7, 'train_main_dummy', 3, 0)
  seeds = {seeding.derive(7, name, ordinal, 0)
           for name in ('train_main_dummy', 'test_main_dummy') for ordinal in range(50)}
  assert len(seeds) == 100 and all(0 <= s < 2 ** 31 for s in seeds)
  assert seeding.derive(None, 'x') is None
  assert seeding.derive(4294967295, 'x', 2 ** 40) >= 0  # any seed and position


def test_a_score_survives_a_kill_right_after_its_checkpoint(tmp_path, monkeypatch):
  from planet.training import checkpoints

  class Killed(BaseException):
    pass

  save = checkpoints.Checkpoints.save

  def save_then_die(self, step):
    path = save(self, step)
    if step == 20:
      raise Killed()
    return path

  monkeypatch.setattr(checkpoints.Checkpoints, 'save', save_then_die)
  with pytest.raises(Killed):  # the first checkpoint, at the end of the first test phase
    run(tmp_path, checkpoint_every=10)
  monkeypatch.setattr(checkpoints.Checkpoints, 'save', save)
  assert checkpoint_steps(tmp_path) == [20]
  run(tmp_path, stop_after=1, checkpoint_every=10)  # resumed at 20: its first score is at 30-40
  # The score of the test phase that ended at the checkpoint (summary step 5) is in the events.
  assert [step for step, _ in scores_in_events(tmp_path)] == [5, 15]
  assert [step for step, _ in scores_in_metrics(tmp_path)] == [5, 15]


@pytest.mark.parametrize('version', ['with metrics.jsonl', 'earlier, without it'])
def test_a_resumed_run_reports_its_last_score(copy_of_stopped, version):
  if version != 'with metrics.jsonl':
    os.remove(copy_of_stopped / metrics.FILENAME)
  params = configs.resolve(PARAMS, 'debug')
  trainer = build.trainer(params, str(copy_of_stopped))
  try:
    assert int(trainer.step) == 80
    last = scores_in_events(copy_of_stopped)[-1]
    assert last[0] == 35 and trainer.progress.score == pytest.approx(last[1])
    # A run without metrics.jsonl gets its earlier scalars from the event files into it.
    assert [step for step, _ in scores_in_metrics(copy_of_stopped)] == [5, 15, 25, 35]
  finally:
    trainer.close()


def test_leftovers_of_killed_writes_are_cleaned_and_a_corrupt_episode_is_moved_aside(copy_of_stopped,
                                                                                     caplog):
  """A resume after a kill that left a temp episode and a temp checkpoint folder, and with one episode
  file cut short: the temp files are removed, the unreadable episode is moved into corrupt/ with one
  warning naming it, and the run ends with the checkpoints of an uninterrupted run."""
  tmp_path = copy_of_stopped
  (tmp_path / 'train_episodes' / '.20260101T000000-x.npz.tmp').write_bytes(b'partial')
  (tmp_path / 'model.ckpt-60_temp').mkdir()
  (tmp_path / 'model.ckpt-60_temp' / 'part-00000-of-00001.data-00000-of-00001').write_bytes(b'x')
  victim = episodes.filenames(str(tmp_path / 'train_episodes'))[-1]
  with open(victim, 'r+b') as f:
    f.truncate(100)
  with caplog.at_level(logging.WARNING, logger='planet'):
    scores = run(tmp_path)
  assert len(scores) == 1  # resumed from the checkpoint at 80: the score at 95
  assert not glob.glob(str(tmp_path / '**' / '*.tmp'), recursive=True)
  assert not glob.glob(str(tmp_path / '**' / '.*.tmp'), recursive=True)
  assert not glob.glob(str(tmp_path / '*_temp*'))
  assert checkpoint_steps(tmp_path) == [40, 80, 100]
  warnings = [r.message for r in caplog.records if os.path.basename(victim) in r.message]
  assert len(warnings) == 1 and 'unreadable' in warnings[0]
  assert os.path.exists(tmp_path / 'train_episodes' / 'corrupt' / os.path.basename(victim))
  assert victim not in episodes.filenames(str(tmp_path / 'train_episodes'))


def test_a_corrupt_first_episode_does_not_stop_the_data_spec(tmp_path):
  from planet.tools import dataset
  good = episodes.save(str(tmp_path), {'image': np.zeros((21, 64, 64, 3), np.uint8),
                                       'action': np.zeros((21, 1), np.float32),
                                       'reward': np.zeros(21, np.float32)})
  (tmp_path / '00000000T000000-broken.npz').write_bytes(b'not an npz file')
  spec = dataset.spec(str(tmp_path), 10)
  assert spec['image'].shape == (10, 64, 64, 3)
  assert episodes.filenames(str(tmp_path)) == [good]
  assert os.listdir(tmp_path / 'corrupt') == ['00000000T000000-broken.npz']


@pytest.mark.parametrize('damage', ['truncate', 'garbage'])
def test_a_bad_newest_checkpoint_falls_back_to_an_older_one(copy_of_stopped, caplog, damage):
  tmp_path = copy_of_stopped
  assert checkpoint_steps(tmp_path) == [40, 80]
  if damage == 'truncate':
    with open(tmp_path / 'model.ckpt-80.data-00000-of-00001', 'r+b') as f:
      f.truncate(100)
  else:
    (tmp_path / 'model.ckpt-80.index').write_bytes(b'garbage' * 20)
  with caplog.at_level(logging.INFO, logger='planet'):
    scores = run(tmp_path, stop_after=1)
  messages = [r.message for r in caplog.records]
  assert any('model.ckpt-80' in m and 'does not restore' in m for m in messages)
  assert any(m.startswith('Resuming from') and m.endswith('model.ckpt-40 at step 40.')
             for m in messages)
  assert os.path.exists(tmp_path / 'corrupt' / 'model.ckpt-80.index')
  assert len(scores) == 1 and np.isfinite(scores[0])  # it trains on from step 40


def test_a_garbage_state_file_does_not_restart_from_zero(copy_of_stopped, caplog):
  tmp_path = copy_of_stopped
  (tmp_path / 'checkpoint').write_text('garbage {{{')
  with caplog.at_level(logging.INFO, logger='planet'):
    run(tmp_path)
  assert any(r.message.endswith('model.ckpt-80 at step 80.') for r in caplog.records)
  assert checkpoint_steps(tmp_path) == [40, 80, 100]
  assert 'model.ckpt-100' in (tmp_path / 'checkpoint').read_text()


@pytest.mark.parametrize('in_graph', [False, True])
def test_a_dead_env_worker_is_restarted_and_the_episode_redone(tmp_path, faulty_task, caplog,
                                                              in_graph):
  params = configs.resolve({'tasks': [faulty_task('die', times=1)]}, 'debug')
  task = build.task(params['tasks'][0], params)
  agent = build.agent(params, build.model(params, 1))
  simulation = simulate.Simulation(task, agent, str(tmp_path), 5, 1, 'process', in_graph,
                                   name='train_main_faulty')
  with caplog.at_level(logging.WARNING, logger='planet'):
    result = simulation.run(0.0, ordinal=0)
  simulation.close()
  assert result['length'] == 20
  warnings = [r.message for r in caplog.records if 'died' in r.message]
  assert len(warnings) == 1 and 'train_main_faulty' in warnings[0]
  assert 'killed by signal SIGKILL' in warnings[0] and '1 of 3' in warnings[0]
  assert [os.path.basename(p)[16:] for p in episodes.filenames(str(tmp_path))] == [
      'train_main_faulty-000000.npz']
  # The redone episode is the episode of that position: the same images as a fresh one.
  np.testing.assert_array_equal(
      episodes.load(result['paths'][0])['image'][0],
      np.random.RandomState(seeding.derive(5, 'train_main_faulty', 0, 0)).randint(
          0, 256, (64, 64, 3), dtype=np.uint8))


def test_an_env_worker_that_keeps_dying_fails_the_run_with_a_message(tmp_path, faulty_task):
  params = configs.resolve({'tasks': [faulty_task('die', times=10)]}, 'debug')
  task = build.task(params['tasks'][0], params)
  outdir = tmp_path / 'episodes'
  simulation = simulate.Simulation(
      task, simulate.RandomAgent(build.task('dummy', params).env_ctor().action_space), str(outdir),
      5, 1, 'process', name='train_main_faulty')
  with pytest.raises(RuntimeError) as error:
    simulation.run(0.0)
  simulation.close()
  assert str(error.value) == (
      'the environment worker of train_main_faulty died 4 times in episode 0 (environment worker '
      '(process) died: killed by signal SIGKILL); giving up.')
  assert not outdir.exists()


@pytest.mark.parametrize('in_graph', [False, True])
def test_an_interrupt_during_an_episode_is_an_interrupt(tmp_path, faulty_task, in_graph):
  # Ctrl-C or SIGTERM while the in-graph loop runs the env's Python reaches TensorFlow as an op error;
  # it must stay an interrupt (checkpoint, resumable), not become a failed run.
  params = configs.resolve({'tasks': [faulty_task('interrupt', times=1)]}, 'debug')
  task = build.task(params['tasks'][0], params)
  agent = build.agent(params, build.model(params, 1))
  simulation = simulate.Simulation(task, agent, str(tmp_path), 5, 1, 'none', in_graph)
  with pytest.raises(KeyboardInterrupt):
    simulation.run(0.0)
  assert simulation.run(0.0)['length'] == 20  # the next episode runs
  simulation.close()


def cli(*args):
  """The train command in this process: (exit code, stdout, stderr)."""
  import contextlib
  import io
  out, err = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    code = train.main(list(args))
  logging.getLogger('planet').handlers[:] = []
  return code, out.getvalue(), err.getvalue()


def test_a_failed_run_is_never_completed_and_can_be_retried(tmp_path, faulty_task, capsys):
  name = faulty_task('raise', times=1, at=5)
  logdir = str(tmp_path / 'logs')
  args = ['--logdir', logdir, '--config', 'debug',
          '--params', f'{{tasks: [{name}], max_steps: 40, isolate_envs: none, seed: 1}}']
  code, out, err = cli(*args)
  run_dir = os.path.join(logdir, '00001')
  assert code == 1
  assert err.strip().splitlines()[-1] == (
      f'error: run {run_dir} failed: RuntimeError: simulated env failure at step 5; the traceback '
      f'is in {run_dir}/FAIL; rerun with --retry_failed True to resume it from its checkpoint.')
  assert os.path.exists(os.path.join(run_dir, 'FAIL'))
  assert not os.path.exists(os.path.join(run_dir, 'DONE'))
  assert 'All runs completed' not in out
  # The same command again: nothing runs, and it still says the run failed.
  code, out, err = cli(*args)
  assert code == 1 and 'Score' not in out
  assert err.strip().splitlines()[-1].startswith(f'error: run {run_dir} failed: RuntimeError:')
  # Retrying resumes it (the env no longer fails) and finishes it.
  code, out, err = cli(*args, '--retry_failed', 'True')
  assert code == 0, err
  assert f'Retrying failed run {run_dir}' in out and 'All runs completed.' in out
  assert os.path.exists(os.path.join(run_dir, 'DONE'))
  assert not os.path.exists(os.path.join(run_dir, 'FAIL'))
  # A finished run is skipped with a word.
  code, out, err = cli(*args)
  assert code == 0
  assert 'Run 00001 in ' in out and 'is done; use --num_runs 2 or another --logdir' in out


def test_a_corrupt_params_file_is_a_one_line_error(tmp_path):
  logdir = tmp_path / 'logs'
  run_dir = logdir / '00001'
  run_dir.mkdir(parents=True)
  (run_dir / 'PING').write_text('{}')
  (run_dir / 'params.yaml').write_text('tasks: [dummy\nseed: 1\n')
  before = sorted(os.listdir(run_dir))
  code, out, err = cli('--logdir', str(logdir), '--config', 'debug', '--params', '{tasks: [dummy]}')
  lines = [line for line in err.splitlines() if line.startswith('error:')]
  assert code == 2 and len(lines) == 1 and f'{run_dir}/params.yaml' in lines[0]
  assert sorted(os.listdir(run_dir)) == before  # no FAIL, nothing else written


BAD_VALUES = [
    ('{seed: -1}', "'seed': got -1"),
    ('{seed: 1.5}', "'seed': got 1.5"),
    ('{train_collects: [{after: abc}]}', "'train_collects.after': got 'abc'"),
    ('{train_collects: [{after: 10, every: 10, action_noise: high}]}',
     "'train_collects.action_noise': got 'high'"),
    ('{test_collects: [{name: "a b"}]}', "'test_collects.name': got 'a b'"),
    ('{train_collects: [{objective: fun}]}', "'train_collects.objective': got 'fun'; allowed: reward"),
    ('{main_learning_rate: .nan}', "'main_learning_rate': got nan; allowed: a finite number > 0.0"),
    ('{main_learning_rate: 0}', "'main_learning_rate': got 0; allowed: a number > 0.0"),
    ('{image_bits: 100}', "'image_bits': got 100; allowed: an integer >= 1 and <= 8"),
    ('{max_steps: .inf}', "'max_steps': got inf; allowed: an integer >= 0"),
    ('{free_nats: .inf}', "'free_nats': got inf"),
    ('{action_noise_min: 2}', "'action_noise_min': got 2"),
    ('{tasks: [dummy, dummy]}', "'tasks': got ['dummy', 'dummy']; allowed: a list of different"),
    ('{loader_window: 2}', "'loader_window' is not supported"),
    ('{planner: mppi}', "'planner': got 'mppi'; allowed: cem"),
    ('{network: resnet}', "'network': got 'resnet'; allowed: conv_ha"),
]


@pytest.mark.parametrize('params, message', BAD_VALUES)
def test_bad_values_stop_before_anything_is_written(tmp_path, params, message):
  logdir = tmp_path / 'logs'
  code, out, err = cli('--logdir', str(logdir), '--config', 'debug', '--params', params)
  lines = [line for line in err.splitlines() if line.strip()]
  assert code == 2 and len(lines) == 1 and lines[0].startswith('error: ')
  assert message in lines[0]
  assert not logdir.exists()


def test_huge_seed_is_a_working_seed(tmp_path):
  assert len(run(tmp_path, max_steps=20, seed=4294967295)) == 1
  assert configs.load(str(tmp_path / 'params.yaml'))['seed'] == 4294967295


def test_num_chunks_null_means_as_many_as_fit(tmp_path):
  params = configs.resolve({'num_chunks': None}, 'debug')
  assert params['num_chunks'] is None
  episode = {'action': np.zeros((21, 1)), 'reward': np.zeros(21)}
  assert len(list(episodes.chunk(episode, 10, params['num_chunks'], np.random.RandomState(0)))) == 1
