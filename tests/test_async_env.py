"""Isolated and batched environments: results, errors with the worker's traceback, cleanup."""

import multiprocessing
import os
import threading
import types

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from planet.control import async_env
from planet.scripts import tasks

from conftest import loads_tensorflow

# A process worker imports the module of the function it unpickles: this one's, for the envs below. It
# imports nothing that imports TensorFlow at its top (planet.control.simulate is imported in the test
# that needs it), so the workers start in about a second.


class CrashingEnv(gymnasium.Env):
  """Counts steps in its observation; raises on the step number `crash_at`."""

  def __init__(self, crash_at=3):
    self.observation_space = spaces.Dict({'count': spaces.Box(0, 100, (), np.float32)})
    self.action_space = spaces.Box(-1, 1, (2,), np.float32)
    self._crash_at = crash_at
    self._count = 0

  def reset(self, *, seed=None, options=None):
    self._count = 0
    return {'count': np.float32(0), 'pid': os.getpid(), 'image': np.zeros((64, 64, 3), np.uint8)}, {}

  def step(self, action):
    self._count += 1
    if self._count == self._crash_at:
      raise RuntimeError(f'simulated crash at step {self._count}')
    obs = {'count': np.float32(self._count), 'pid': os.getpid(),
           'image': np.full((64, 64, 3), self._count, np.uint8)}
    return obs, float(np.sum(action)), False, False, {}


def make(crash_at=3):
  return CrashingEnv(crash_at)


@pytest.mark.parametrize('strategy', ['thread', 'process'])
def test_worker_steps_and_reports_errors_with_traceback(strategy):
  env = async_env.AsyncEnv(make, strategy)
  assert env.action_space.shape == (2,)
  obs, _ = env.reset()
  assert (obs['pid'] != os.getpid()) == (strategy == 'process')
  promise = env.step(np.array([0.25, 0.5], np.float32), blocking=False)
  obs, reward, *_ = promise()
  assert obs['count'] == 1 and reward == 0.75
  env.step(np.zeros(2, np.float32))
  with pytest.raises(async_env.WorkerError) as error:
    env.step(np.zeros(2, np.float32))
  message = str(error.value)
  assert 'simulated crash at step 3' in message and 'Traceback' in message and 'in step' in message
  # The worker is gone and no child process is left behind.
  assert not env._worker.is_alive()
  assert multiprocessing.active_children() == []
  with pytest.raises(RuntimeError, match='closed'):
    env.step(np.zeros(2, np.float32))


def broken():
  return 1 / 0


@pytest.mark.parametrize('strategy', ['thread', 'process'])
def test_constructor_errors_are_reported(strategy):
  with pytest.raises(async_env.WorkerError, match='ZeroDivisionError'):
    async_env.AsyncEnv(broken, strategy)
  assert multiprocessing.active_children() == []


def test_batch_env_steps_all_and_validates_actions():
  envs = async_env.BatchEnv([async_env.AsyncEnv(make, 'thread') for _ in range(3)])
  envs.reset()
  results = envs.step(np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]], np.float32))
  np.testing.assert_allclose([r[1] for r in results], [0.2, 0.4, 0.6], rtol=1e-6)
  results = envs.step(np.zeros((3, 2), np.float32), indices=[2])
  assert len(results) == 1 and results[0][0]['count'] == 2
  with pytest.raises(ValueError, match='invalid action for env 1'):
    envs.step(np.array([[0, 0], [5, 0], [0, 0]], np.float32))
  envs.reset(indices=[0])
  envs.close()
  threads = [t for t in threading.enumerate() if t.daemon and t.is_alive() and 'worker' in t.name]
  assert all(not env._worker.is_alive() for env in envs.envs), threads


def test_batch_env_needs_equal_spaces():
  class Other(CrashingEnv):
    def __init__(self):
      super().__init__()
      self.action_space = spaces.Box(-1, 1, (3,), np.float32)
  with pytest.raises(ValueError, match='same observation and action spaces'):
    async_env.BatchEnv([CrashingEnv(), Other()])


def test_unknown_strategy():
  with pytest.raises(ValueError, match='allowed: thread, process'):
    async_env.AsyncEnv(make, 'fork')


def crashing_ctor(seed=None):
  return CrashingEnv(crash_at=4)


class ZeroAgent:
  def begin_episode(self):
    pass

  observation_spec = {}

  def policy(self, observation, noise):
    return types.SimpleNamespace(numpy=lambda: np.zeros((2, 2), np.float32))


@pytest.mark.parametrize('strategy', ['none', 'thread', pytest.param('process', marks=pytest.mark.slow)])
def test_crashing_env_during_an_episode(tmp_path, strategy):
  from planet.control import simulate
  task = simulate_task()
  simulation = simulate.Simulation(task, ZeroAgent(), str(tmp_path), 0, 2, strategy)
  error = async_env.WorkerError if strategy != 'none' else RuntimeError
  with pytest.raises(error, match='simulated crash at step 4'):
    simulation.run(0.0)
  simulation.close()
  assert multiprocessing.active_children() == []
  assert os.listdir(tmp_path) == []  # no partial episode file


def simulate_task():
  return tasks.Task('crashing', crashing_ctor, 10, ['reward'])


def test_a_process_worker_of_a_simulation_does_not_load_tensorflow(tmp_path):
  """What a simulation's process worker unpickles (the recording wrapper's constructor around the
  task's) imports no TensorFlow: a worker that did paid 3-5 s of CPU and hundreds of MB at every start,
  and printed TensorFlow's start messages into the run's output."""
  from planet.control import simulate
  task = tasks.make('dummy')
  simulation = simulate.Simulation(task, simulate.RandomAgent(task.action_space), str(tmp_path), 0, 1,
                                   'process')
  try:
    assert simulation.run(0.0)['length'] == task.max_length
    worker, = [env._worker for env in simulation.env.envs]
    assert loads_tensorflow(worker.pid) is False
  finally:
    simulation.close()
