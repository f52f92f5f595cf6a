"""The recorded episode format and the task wrappers."""

import gymnasium
import numpy as np
import pytest

from planet.control import simulate
from planet.control import wrappers
from planet.scripts import build
from planet.scripts import configs
from planet.scripts import tasks
from planet.tools import episodes

from conftest import CountingEnv


def test_recorded_alignment(tmp_path):
  env = CountingEnv()
  env = gymnasium.wrappers.TimeLimit(env, 6)
  env = gymnasium.wrappers.AddRenderObservation(env, render_only=False, render_key='image')
  env = wrappers.ConvertTo32Bit(env)
  env = wrappers.RecordEpisodes(env)
  env.reset()
  actions = [0.1, -0.2, 0.3, -0.4, 0.5, -0.6]
  for action in actions:
    assert env.last_episode is None
    *_, terminated, truncated, info = env.step(np.array([action], np.float32))
  assert truncated and not terminated
  episode = episodes.load(episodes.save(str(tmp_path), env.last_episode))  # As simulate saves it.
  assert len(episode['image']) == 7  # decisions + 1
  np.testing.assert_array_equal(episode['image'][:, 0, 0, 0], np.arange(7))
  # Index 0: reset image, zero action, zero reward; index t: the action that led to image t.
  np.testing.assert_allclose(episode['action'][:, 0], [0.0] + actions)
  np.testing.assert_allclose(episode['reward'], [0.0] + actions)
  assert episode['image'].dtype == np.uint8 and episode['action'].dtype == np.float32


def test_action_repeat_sums_rewards_and_stops_at_the_end():
  env = wrappers.ActionRepeat(gymnasium.wrappers.TimeLimit(CountingEnv(), 5), 3)
  env.reset()
  _, reward, _, truncated, _ = env.step(np.array([0.5]))
  assert reward == 1.5 and not truncated
  _, reward, _, truncated, _ = env.step(np.array([0.5]))
  assert reward == 1.0 and truncated  # only 2 of the 3 repeats fit in the 5 steps


def test_step_before_reset_is_an_error():
  env = build.task('dummy', configs.resolve({'tasks': ['dummy']})).env_ctor()
  with pytest.raises(gymnasium.error.ResetNeeded, match='reset'):
    env.step(np.zeros(1, np.float32))


def test_dummy_task():
  params = configs.resolve({'tasks': ['dummy']})
  task = build.task('dummy', params)
  assert task.max_length == 1000 and task.state_components == ['reward']
  env = task.env_ctor(seed=0)
  obs, _ = env.reset()
  assert obs['image'].shape == (64, 64, 3) and obs['image'].dtype == np.uint8
  assert env.action_space.shape == (1,)


def test_random_episodes_of_the_debug_length(tmp_path):
  params = configs.resolve({'tasks': ['dummy']}, 'debug')
  task = build.task('dummy', params)
  assert task.max_length == 20  # 1000 // action_repeat 50
  simulate.random_episodes(task, str(tmp_path), 2, seed=0)
  names = episodes.filenames(str(tmp_path))
  assert len(names) == 2
  assert all(len(episodes.load(name)['image']) == 21 for name in names)


TABLE = {  # name: (action repeat, max length, state components, action dim)
    'cartpole_balance': (8, 125, ['position', 'velocity'], 1),
    'cartpole_swingup': (8, 125, ['position', 'velocity'], 1),
    'finger_spin': (2, 500, ['position', 'velocity', 'touch'], 2),
    'cheetah_run': (4, 250, ['position', 'velocity'], 6),
    'cup_catch': (4, 250, ['position', 'velocity'], 2),
    'walker_walk': (2, 500, ['height', 'orientations', 'velocity'], 6),
    'reacher_easy': (4, 250, ['position', 'velocity', 'to_target'], 2),
}


@pytest.mark.parametrize('name', sorted(TABLE))
def test_dm_control_tasks(name):
  repeat, length, components, action_dim = TABLE[name]
  assert tasks.spec(name).action_repeat == repeat
  task = build.task(name, configs.resolve({'tasks': [name]}))
  assert task.max_length == length
  assert task.state_components == ['reward'] + components
  env = task.env_ctor(seed=0)
  obs, _ = env.reset()
  assert sorted(obs) == sorted(components + ['image'])
  assert obs['image'].shape == (64, 64, 3) and obs['image'].dtype == np.uint8
  assert obs['image'].std() > 0  # a real rendered frame
  assert env.action_space.shape == (action_dim,)
  np.testing.assert_array_equal(env.action_space.low, -1)
  obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
  assert isinstance(reward, np.float32) and not terminated and not truncated
  env.close()


def test_action_repeat_param_changes_max_length():
  params = configs.resolve({'tasks': ['cheetah_run'], 'action_repeat': 2})
  assert build.task('cheetah_run', params).max_length == 500


def test_cartpole_episode_is_125_decisions():
  params = configs.resolve({'tasks': ['cartpole_balance']})
  env = build.task('cartpole_balance', params).env_ctor(seed=0)
  env.reset()
  steps, done = 0, False
  while not done:
    _, _, terminated, truncated, _ = env.step(np.zeros(1, np.float32))
    done = terminated or truncated
    steps += 1
  assert steps == 125 and truncated
  env.close()


@pytest.mark.parametrize('name', ['cheetah_run', 'walker_walk', 'finger_spin'])
def test_small_offscreen_buffer_renders_the_same_pixels(name):
  from dm_control import suite
  domain, task_name = (tasks.TASKS[name].options[key] for key in ('domain', 'task'))
  env = wrappers.DeepMindEnv(domain, task_name, seed=5)
  assert env._env.physics.model.vis.global_.offwidth == 64
  reference = suite.load(domain, task_name, task_kwargs={'random': 5})
  assert reference.physics.model.vis.global_.offwidth > 64  # the suite's default buffer
  env.reset()
  reference.reset()
  for _ in range(3):
    action = np.full(env.action_space.shape, 0.3, np.float32)
    env.step(action)
    reference.step(action)
    np.testing.assert_array_equal(env.render(), reference.physics.render(64, 64, camera_id=0))
