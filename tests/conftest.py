"""Shared fixtures and helpers: the train command, registered test tasks, and envs that crash or die."""

import os
import signal
import sys
import time

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from planet.tools import quiet_start

quiet_start.install()  # The suite starts TensorFlow as the commands do.

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The test files that take longest, longest first (seconds of one file on one of 2 cores, AMD EPYC
# Zen 3, 3 December 2026: sweep 229, resume 221, presets 155, train 127, gym 69, checkpoints 68,
# observations 52, precision 34, speed 24, running 22). pytest-xdist (`--dist loadfile`) hands whole
# files to its two workers in collection order (pytest.ini turns off its ordering by number of tests),
# so these start first and the many short files fill the gaps: both workers end at about the same time,
# instead of one running the train-script tests alone at the end.
LONGEST_FILES = ('test_sweep.py', 'test_resume.py', 'test_presets.py', 'test_train.py', 'test_gym.py',
                 'test_checkpoints.py', 'test_observations.py', 'test_precision.py', 'test_speed.py',
                 'test_running.py')


def pytest_collection_modifyitems(items):
  """The longest test files first; every file's tests stay together and in their order."""
  def rank(item):
    name = os.path.basename(str(item.path))
    return LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)
  items.sort(key=rank)


def wait_until(condition, timeout, what):
  """Polls `condition()` (which may fail the test itself, e.g. when a process died) until it is true;
  fails with `no <what> after <timeout> s` past the deadline."""
  deadline = time.monotonic() + timeout
  while not condition():
    assert time.monotonic() < deadline, f'no {what} after {timeout} s'
    time.sleep(0.05)


def loads_tensorflow(pid):
  """Whether process `pid` has a TensorFlow library mapped (None: the process has ended)."""
  try:
    with open(f'/proc/{pid}/maps') as f:
      return 'tensorflow' in f.read()
  except FileNotFoundError:
    return None


@pytest.fixture
def run_train(tmp_path):
  """Runs the train command in a subprocess; returns (returncode, stdout, stderr)."""
  import subprocess

  def run(*args, timeout=600, **kwargs):
    result = subprocess.run(
        [sys.executable, '-m', 'planet.scripts.train', *args], capture_output=True, text=True,
        timeout=timeout, cwd=REPO, **kwargs)
    return result.returncode, result.stdout, result.stderr
  return run


def write_tasks_run(rundir, returns, episodes):
  """A run directory of one agent on several tasks: params.yaml with `tasks` (the keys of `returns`,
  {task: [test return by step]}), each task's `simulation/test_main_<task>/return`, the mean of them
  as `trainer/test/score` and `dataset/episodes` (all tasks together) at steps 0, 1, ..."""
  import tensorflow as tf
  from planet.scripts import configs
  os.makedirs(rundir, exist_ok=True)
  configs.dump(configs.resolve({'tasks': list(returns)}), os.path.join(rundir, 'params.yaml'))
  writer = tf.summary.create_file_writer(os.path.join(rundir, 'test'))
  with writer.as_default():
    for step, count in enumerate(episodes):
      for task, values in returns.items():
        tf.summary.scalar(f'simulation/test_main_{task}/return', values[step], step=step)
      tf.summary.scalar('trainer/test/score', np.mean([v[step] for v in returns.values()]), step=step)
      tf.summary.scalar('dataset/episodes', count, step=step)
  writer.flush()
  writer.close()


# Parameter counts by hand, from the architecture: a kernel plus a bias per layer.
def conv(k, cin, cout):
  return k * k * cin * cout + cout


def dense(nin, nout):
  return nin * nout + nout


ENCODER = conv(4, 3, 32) + conv(4, 32, 64) + conv(4, 64, 128) + conv(4, 128, 256)
DECODER = (dense(230, 1024) + conv(5, 1024, 128) + conv(5, 128, 64) + conv(6, 64, 32)
           + conv(6, 32, 3))
REWARD = dense(230, 300) + 2 * dense(300, 300) + dense(300, 1)
GRU = (200 + 200) * 400 + 400 + (200 + 200) * 200 + 200


def rssm_count(action_size, state=30, belief=200, hidden=200, embedding=1024):
  prior = dense(state + action_size, hidden) + GRU + dense(belief, hidden) + 2 * dense(hidden, state)
  posterior = dense(belief + embedding, hidden) + 2 * dense(hidden, state)
  return prior + posterior



@pytest.fixture(scope='session')
def debug_run(tmp_path_factory):
  """`debug_run(**overrides)`: a finished in-process run of the debug config with these params,
  trained once per configuration and shared by every test that asks for it. Returns a namespace with
  `logdir`, `params`, `scores` and the `trainer`."""
  import types
  from planet.scripts import configs
  from planet.scripts import train
  runs = {}

  def run(**overrides):
    key = repr(sorted(overrides.items()))
    if key not in runs:
      logdir = str(tmp_path_factory.mktemp('debug_run'))
      params, trainer = train.prepare(configs.resolve(overrides, 'debug'), logdir)
      scores = list(trainer.run())
      runs[key] = types.SimpleNamespace(logdir=logdir, params=params, scores=scores, trainer=trainer)
    return runs[key]
  return run


@pytest.fixture
def register_task():
  """Registers tasks for one test (the tasks extension point); `register(name, spec)`."""
  from planet.scripts import tasks
  added = []

  def register(name, spec):
    tasks.TASKS.register(name, spec)
    added.append(name)
    return name
  yield register
  for name in added:
    tasks.TASKS.unregister(name)


@pytest.fixture
def second_dummy(register_task):
  """A second task name with the dummy env."""
  from planet.scripts import tasks
  return register_task('dummy_b', tasks.TASKS['dummy'])


class CountingEnv(gymnasium.Env):
  """The image shows the step count; the reward is the action that was taken."""

  render_mode = 'rgb_array'

  def __init__(self):
    self.observation_space = spaces.Dict({})
    self.action_space = spaces.Box(-1, 1, (1,), np.float32)
    self._step = 0

  def reset(self, *, seed=None, options=None):
    self._step = 0
    return {}, {}

  def step(self, action):
    self._step += 1
    return {}, float(action[0]), False, False, {}

  def render(self):
    return np.full((64, 64, 3), self._step, np.uint8)


class FaultyEnv(gymnasium.Env):
  """The dummy env's images and rewards; at step `at` of an episode it raises (`fault: raise`), kills
  its own process with SIGKILL (`fault: die`) or is interrupted (`fault: interrupt`), as long as the counter file `faults` holds a
  positive number, which each fault decrements."""

  metadata = {'render_modes': ['rgb_array']}
  render_mode = 'rgb_array'

  def __init__(self, faults, fault='raise', at=3):
    self.observation_space = spaces.Dict({})
    self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    self._faults, self._fault, self._at = faults, fault, at
    self._random = np.random.RandomState(0)
    self._step = 0

  def reset(self, *, seed=None, options=None):
    super().reset(seed=seed)
    self._random = np.random.RandomState(seed)
    self._step = 0
    return {}, {}

  def step(self, action):
    self._step += 1
    if self._step == self._at and _take_fault(self._faults):
      if self._fault == 'die':
        os.kill(os.getpid(), signal.SIGKILL)
      if self._fault == 'interrupt':
        raise KeyboardInterrupt('signal 15')
      raise RuntimeError(f'simulated env failure at step {self._step}')
    return {}, float(self._random.uniform(0, 1)), False, False, {}

  def render(self):
    return self._random.randint(0, 256, (64, 64, 3), dtype=np.uint8)


def _take_fault(path):
  try:
    with open(path) as f:
      left = int(f.read().strip() or 0)
  except FileNotFoundError:
    return False
  if left <= 0:
    return False
  with open(path, 'w') as f:
    f.write(str(left - 1))
  return True


def faulty_env(faults, fault, at, settings, seed=None):
  """An env family (tasks.TaskSpec) around FaultyEnv, with the dummy task's wrappers."""
  from planet.control import wrappers
  from planet.scripts import tasks
  env = wrappers.ActionRepeat(FaultyEnv(faults, fault, at), settings.action_repeat)
  env = gymnasium.wrappers.TimeLimit(env, settings.max_length)
  return tasks._finish(env)


@pytest.fixture
def faulty_task(register_task, tmp_path):
  """`make(fault, times, at=3)` registers a task whose env fails `times` times; returns its name."""
  from planet.scripts import tasks

  def make(fault='raise', times=1, at=3, name='faulty'):
    counter = str(tmp_path / f'{name}_faults')
    with open(counter, 'w') as f:
      f.write(str(times))
    spec = tasks.TaskSpec(faulty_env, 1, ('reward',), {'faults': counter, 'fault': fault, 'at': at})
    return register_task(name, spec)
  return make
