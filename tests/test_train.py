"""End to end: the debug run (debug config, max_steps 30) on `dummy` and on a dm_control task, what it leaves behind,
and resuming an interrupted run."""

import glob
import math
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from planet.scripts import configs
from planet.tools import episodes
from planet.tools import metrics

from conftest import REPO
from conftest import loads_tensorflow
from conftest import wait_until

pytestmark = pytest.mark.slow


def scalars(directory):
  accumulator = event_accumulator.EventAccumulator(directory, size_guidance={'tensors': 0})
  accumulator.Reload()
  result = {}
  for tag in accumulator.Tags()['tensors']:
    values = [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)]
    if values and values[0][1].dtype.kind == 'f':  # scalars, not images
      result[tag] = [(step, float(value)) for step, value in values]
  return result


def check_debug_run(logdir, task, stdout):
  run = os.path.join(logdir, '00001')
  assert sorted(os.listdir(logdir)) == ['00001']
  assert os.path.exists(os.path.join(run, 'DONE'))
  assert not os.path.exists(os.path.join(run, 'FAIL'))
  assert os.path.exists(os.path.join(run, 'PING'))
  params = configs.load(os.path.join(run, 'params.yaml'))
  assert params['tasks'] == [task] and params['max_steps'] == 30 and params['batch_shape'] == [5, 10]
  assert configs.resolve(params) == params  # the stored params are complete and valid
  for name in ('train_episodes', 'test_episodes'):
    files = episodes.filenames(os.path.join(run, name))
    assert len(files) == 2, name  # 1 random + 1 collected (train) or 1 test episode
    for path in files:
      episode = episodes.load(path)
      assert episode['image'].shape == (21, 64, 64, 3) and episode['image'].dtype == np.uint8
      assert episode['action'].shape[0] == 21 and np.all(episode['action'][0] == 0)
  assert not glob.glob(os.path.join(run, '*_episodes', '.*'))  # no temporary files
  assert len(re.findall(r'^Score (\S+)\.$', stdout, re.M)) == 1
  assert 'Graph contains ' in stdout
  assert os.path.exists(os.path.join(run, 'model.ckpt-30.index'))
  train, test = scalars(os.path.join(run, 'train')), scalars(os.path.join(run, 'test'))
  for tag in ('objectives/image', 'objectives/reward', 'objectives/divergence',
              'optimizer/grad_norm', 'steps_per_second', 'loss'):
    assert tag in train and tag in test, tag
  # Train logs at phase steps 5 and 15 (global 5 and 25); the test phase logs once, at summary step 5.
  assert [step for step, _ in train['objectives/image']] == [5, 15]
  assert [step for step, _ in test['trainer/test/score']] == [5]
  score = float(re.search(r'^Score (\S+)\.$', stdout, re.M).group(1))
  assert test['trainer/test/score'][0][1] == pytest.approx(score)
  rows = metrics.scalars(run, 'test', ['trainer/test/score'])['trainer/test/score']
  assert [(step, value) for _, step, value in rows] == [(5, score)]  # metrics.jsonl, exact
  assert test[f'simulation/test_main_{task}/return'][0][1] == pytest.approx(score)
  assert f'collection/train_main_{task}/return' in train
  tags = lambda phase: set(event_accumulator.EventAccumulator(
      os.path.join(run, phase)).Reload().Tags()['tensors'])
  assert {'data/image', 'openloop/image/animation', 'closedloop/state/divergence'} <= tags('train')
  assert f'simulation/test_main_{task}/animation' in tags('test')
  assert all(v < -11000 for _, v in train['objectives/image'])


# The original's debug run through the command, with the assertions it implies: a rendering dm_control
# task in env worker processes, and dummy on the default env thread. dm_control tasks rendering in the
# trainer's own process, beside TensorFlow, train in tests/test_observations.py and tests/test_presets.py
# (on an env thread) and render on the main thread in tests/test_wrappers.py; every isolation of every
# kind of env is in tests/test_async_env.py and tests/test_gym.py.
@pytest.mark.parametrize('task, isolate', [('dummy', 'thread'), ('cup_catch', 'process')])
def test_debug_run(run_train, tmp_path, task, isolate):
  logdir = str(tmp_path / 'logs')
  params = f'{{tasks: [{task}], max_steps: 30, isolate_envs: {isolate}}}'
  args = ('--logdir', logdir, '--config', 'debug', '--params', params)
  code, stdout, stderr = run_train(*args)
  assert code == 0, stderr[-3000:]
  check_debug_run(logdir, task, stdout)
  if task == 'dummy':  # The same command again finds the run DONE and does nothing.
    code, stdout, stderr = run_train(*args)
    assert code == 0 and 'Score' not in stdout
    assert len(episodes.filenames(os.path.join(logdir, '00001', 'train_episodes'))) == 2


def start(logdir, max_steps):
  params = (f'{{tasks: [dummy], max_steps: {max_steps}, checkpoint_every: 10, seed: 3, '
            'isolate_envs: process}')
  return subprocess.Popen(
      [sys.executable, '-m', 'planet.scripts.train', '--logdir', logdir, '--config', 'debug',
       '--params', params], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def alive_children(pid):
  """The live (non-zombie) processes whose parent is `pid`, from /proc."""
  found = []
  for entry in os.listdir('/proc'):
    if entry.isdigit():
      try:
        with open(f'/proc/{entry}/stat') as f:
          fields = f.read().rsplit(')', 1)[1].split()
      except OSError:
        continue
      if int(fields[1]) == pid and fields[0] != 'Z':
        found.append(int(entry))
  return found


def alive(pids):
  result = []
  for pid in pids:
    try:
      with open(f'/proc/{pid}/stat') as f:
        if f.read().rsplit(')', 1)[1].split()[0] != 'Z':
          result.append(pid)
    except OSError:
      pass
  return result


def wait_for(path_glob, process, timeout=300):
  def there():
    if glob.glob(path_glob):
      return True
    assert process.poll() is None, process.stdout.read()[-3000:]
    return False
  wait_until(there, timeout, path_glob)


MAX_STEPS = 60  # three epochs of 20 steps; a checkpoint after every test phase (global 20, 40, 60)


def stop_and_check(process, run, how):
  """Sends `how` to the train process; checks that its env workers ended with it and that the run is
  neither DONE nor FAIL. Returns the process output and the step of the newest checkpoint."""
  workers = alive_children(process.pid)
  assert len(workers) >= 2  # isolate_envs: process (test and train envs), plus the resource tracker
  for pid in workers:  # The env workers (and the tracker) run without TensorFlow.
    assert not loads_tensorflow(pid), pid
  process.send_signal(how)
  output = process.communicate(timeout=120)[0]
  # The env worker processes end with their parent, even one killed with SIGKILL.
  wait_until(lambda: not alive(workers), 10, 'end of the env workers')
  assert not os.path.exists(os.path.join(run, 'DONE'))
  assert not os.path.exists(os.path.join(run, 'FAIL'))
  if how == signal.SIGTERM:
    assert process.returncode == 130 and 'Interrupted; saving a checkpoint' in output
  steps = sorted(int(p.split('-')[-1].split('.')[0])
                 for p in glob.glob(os.path.join(run, 'model.ckpt-*.index')))
  return output, steps[-1]


def test_interrupted_run_resumes(tmp_path):
  """SIGKILL after the first checkpoint, SIGTERM during the resumed run, then a resume to the end: one
  run, as if it had never been stopped."""
  logdir = str(tmp_path / 'logs')
  run = os.path.join(logdir, '00001')
  process = start(logdir, MAX_STEPS)
  wait_for(os.path.join(run, 'model.ckpt-20.index'), process)
  _, stopped_at = stop_and_check(process, run, signal.SIGKILL)
  train_before = len(episodes.filenames(os.path.join(run, 'train_episodes')))

  process = start(logdir, MAX_STEPS)
  wait_for(os.path.join(run, 'model.ckpt-40.index'), process)
  output, terminated_at = stop_and_check(process, run, signal.SIGTERM)
  assert f'Resume run {run}' in output and f'at step {stopped_at}.' in output
  assert 'Collecting' not in output  # the seed episodes are not collected again
  assert len(episodes.filenames(os.path.join(run, 'train_episodes'))) > train_before

  process = start(logdir, MAX_STEPS)
  output = process.communicate(timeout=600)[0]
  assert process.returncode == 0, output[-3000:]
  assert f'Resume run {run}' in output and f'at step {terminated_at}.' in output
  assert os.path.exists(os.path.join(run, 'DONE')) and not os.path.exists(os.path.join(run, 'FAIL'))
  assert os.path.exists(os.path.join(run, f'model.ckpt-{MAX_STEPS}.index'))
  # Every test phase from the epoch it stopped in to the end scored (a SIGTERM saves a checkpoint
  # wherever it lands, for example at step 45), and the events hold each epoch's score exactly once.
  assert len(re.findall(r'^Score ', output, re.M)) == math.ceil((MAX_STEPS - terminated_at) / 20)
  score_steps = [step for step, _ in scalars(os.path.join(run, 'test'))['trainer/test/score']]
  assert sorted(score_steps) == [5, 15, 25]
  # metrics.jsonl across the SIGKILL and the SIGTERM: whole lines, each phase's steps once, in order.
  with open(os.path.join(run, metrics.FILENAME), 'rb') as f:
    assert f.read().endswith(b'\n')
  lines = metrics.lines(os.path.join(run, metrics.FILENAME))
  assert [line['step'] for line in lines if 'trainer/test/score' in line] == [5, 15, 25]
  for phase in ('train', 'test'):
    steps = [line['step'] for line in lines if line['phase'] == phase]
    assert steps == sorted(set(steps)) and steps
