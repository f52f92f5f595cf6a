"""Any gymnasium env as a task: `gym:<id>` and `gym:<module>:<EnvId>` names, their checks, images and
state vectors, discrete actions as one-hot scores, terminations and the absorbing chunks after them,
the gymnasium presets, and debug runs to the end (classic control and a test module's env)."""

import os

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from skimage.transform import resize

import gym_envs
from planet.control import async_env
from planet.control import mpc_agent
from planet.control import planning
from planet.control import wrappers
from planet.errors import ConfigError
from planet.scripts import build
from planet.scripts import configs
from planet.scripts import tasks
from planet.tools import dataset
from planet.tools import episodes

LINE = 'gym:gym_envs:Line-v0'


def task_env(name, config='default', **overrides):
  params = configs.resolve({'tasks': [name], **overrides}, config)
  task = build.task(name, params)
  return task, wrappers.RecordEpisodes(task.env_ctor())


@pytest.mark.parametrize('name, components, images, discrete, length, state', [
    ('gym:CartPole-v1', ['reward', 'state'], True, True, 500, (4,)),
    ('gym:Pendulum-v1', ['reward', 'state'], True, False, 200, (3,)),
    ('gym:MountainCar-v0', ['reward', 'state'], True, True, 200, (2,)),
    (LINE, ['reward', 'state'], True, False, 50, (2,)),
    ('gym:gym_envs:LineDict-v0', ['reward', 'state'], True, False, 50, (3,)),  # x and a one-hot side
    ('gym:gym_envs:LineGrey-v0', ['reward'], True, False, 50, None),
])
def test_gym_task(name, components, images, discrete, length, state):
  task, env = task_env(name)
  assert task.name == tasks.file_name(name) and '-' not in task.name and ':' not in task.name
  assert (task.state_components, task.images, task.discrete) == (components, images, discrete)
  assert task.max_length == length  # the env's own time limit, at action repeat 1
  obs, _ = env.reset(seed=0)
  assert obs['image'].shape == (64, 64, 3) and obs['image'].dtype == np.uint8
  assert obs['image'].std() > 0
  assert obs.get('state', np.zeros(0)).shape == (state or (0,))
  np.testing.assert_array_equal(env.action_space.low, -1)
  np.testing.assert_array_equal(env.action_space.high, 1)
  env.close()


def test_grey_image_observation_is_rgb_and_the_dict_rest_is_flattened():
  _, env = task_env('gym:gym_envs:LineGrey-v0')
  obs, _ = env.reset(seed=0)
  assert set(obs) == {'image'}
  np.testing.assert_array_equal(obs['image'][..., 0], obs['image'][..., 2])
  _, env = task_env('gym:gym_envs:LineDict-v0')
  obs, _ = env.reset(seed=0)
  side, x = obs['state'][:2], obs['state'][2]  # the Dict's entries in sorted order: side, x
  np.testing.assert_array_equal(side, [0, 1] if x > 0 else [1, 0])  # Discrete -> one-hot


def inner(env):
  return env.unwrapped


def test_discrete_actions_execute_the_argmax_and_record_its_one_hot():
  _, env = task_env('gym:gym_envs:LineDiscrete-v0')
  assert env.action_space.shape == (3,)  # Discrete(3, start=-1) as three scores
  env.reset(seed=0)
  for scores in ([0.2, -0.5, 0.9], [0.7, 0.1, -1.0], [-1.0, 0.3, 0.2]):
    env.step(np.array(scores, np.float32))
  assert [int(a) for a in inner(env).received] == [1, -1, 0]  # start + argmax
  for _ in range(50):
    *_, terminated, truncated, _ = env.step(np.array([0, 0, 1], np.float32))
    if terminated or truncated:
      break
  episode = env.last_episode
  np.testing.assert_array_equal(episode['action'][:4], [[0, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]])
  assert set(np.unique(episode['action'][1:].sum(1))) == {1.0}


def test_box_actions_are_rescaled_to_the_envs_bounds():
  _, env = task_env(LINE)
  env.reset(seed=0)
  env.step(np.array([-1.0, 0.5], np.float32))
  np.testing.assert_allclose(inner(env).received[0], [0.0, 1.0])  # bounds [0, 1] and [-2, 2]
  env.step(np.array([1.0, -1.0], np.float32))
  np.testing.assert_allclose(inner(env).received[1], [1.0, -2.0])


def test_terminations_are_recorded_and_end_the_episode():
  _, env = task_env('gym:CartPole-v1')
  env.reset(seed=0)
  steps, done = 0, False
  while not done:  # always push right: the pole falls within a few dozen steps
    _, _, terminated, truncated, _ = env.step(np.array([-1.0, 1.0], np.float32))
    done, steps = terminated or truncated, steps + 1
  assert terminated and not truncated and 5 < steps < 100
  episode = env.last_episode
  assert len(episode['terminal']) == steps + 1 and episode['terminal'].dtype == bool
  assert episode['terminal'][-1] and not episode['terminal'][:-1].any()
  # A time limit is not a termination.
  _, env = task_env('gym:Pendulum-v1', task_settings={'gym:Pendulum-v1': {'episode_steps': 20}},
                    batch_shape=[5, 10])
  env.reset(seed=0)
  for _ in range(20):
    *_, terminated, truncated, _ = env.step(np.zeros(1, np.float32))
  assert truncated and not terminated and not env.last_episode['terminal'].any()
  assert len(env.last_episode['reward']) == 21


def test_task_settings_and_the_global_action_repeat():
  params = configs.resolve({'tasks': [LINE, 'cartpole_swingup'], 'action_repeat': 2, 'batch_shape': [
      5, 10], 'task_settings': {LINE: {'action_repeat': 4, 'episode_steps': 80}}})
  line, cartpole = (build.task(n, params) for n in params['tasks'])
  assert (line.settings.action_repeat, line.settings.episode_steps) == (4, 80)
  assert line.max_length == 20  # 80 // 4
  assert (cartpole.settings.action_repeat, cartpole.max_length) == (2, 500)  # the global override
  env = line.env_ctor()
  env.reset(seed=0)
  for step in range(20):
    *_, terminated, truncated, _ = env.step(np.array([0, 0], np.float32))  # stand still
    assert truncated == (step == 19) and not terminated
  assert len(inner(env).received) == 80  # past Line's own 50-step limit
  env.close()


def line_module(tmp_path, monkeypatch, text):
  (tmp_path / 'planet_test_module.py').write_text(text)
  monkeypatch.syspath_prepend(str(tmp_path))
  return 'gym:planet_test_module:Gone-v0'


REFUSED = [
    ({'tasks': ['gym:CartPol-v1']},
     "unknown task 'gym:CartPol-v1': gymnasium has no env 'CartPol-v1' (near: CartPole-v1"),
    ({'tasks': ['gym:no_such_module_here:X-v0']},
     "module 'no_such_module_here' does not import (ModuleNotFoundError"),
    ({'tasks': ['gym:gym_envs:LineUnrendered-v0']}, 'an env that can render no image'),
    ({'tasks': ['gym:gym_envs:LineText-v0']}, 'is neither an image nor a vector'),
    ({'tasks': ['gym:gym_envs:LineMulti-v0']}, 'action space MultiDiscrete([3 3]); allowed: Box'),
    ({'tasks': ['gym:gym_envs:LineBroken-v0']},
     'the env does not build (RuntimeError: this env does not build'),
    ({'tasks': [LINE], 'task_settings': {LINE: {'image': 'observation'}}},
     'image source observation, but its observations hold no image'),
    ({'tasks': ['gym:gym_envs:LineUnrendered-v0'], 'task_settings': {
        'gym:gym_envs:LineUnrendered-v0': {'image': 'render'}}}, 'it has no rgb_array render mode'),
    ({'tasks': ['cartpole_swingup'], 'task_settings': {'cartpole_swingup': {'image': 'render'}}},
     'only gymnasium tasks choose theirs'),
    ({'tasks': ['cartpole_swingup'], 'task_settings': {'cheetah_run': {'action_repeat': 2}}},
     "'task_settings': got 'cheetah_run'; allowed: settings of the tasks in tasks"),
    ({'tasks': [LINE], 'task_settings': {LINE: {'repeat': 2}}},
     "unknown setting 'repeat' of 'gym:gym_envs:Line-v0'"),
    ({'tasks': [LINE], 'task_settings': {LINE: {'action_repeat': 0}}}, 'an integer >= 1'),
    ({'tasks': [LINE], 'task_settings': {LINE: {'episode_steps': 3, 'action_repeat': 4}}},
     'an episode of at least one decision'),
    ({'tasks': ['gym:gym_envs:LineDiscrete-v0', 'dummy']},
     'several tasks share one agent only with Box actions'),
    ({'tasks': [LINE, 'gym:gym_envs:Line_v0']}, 'tasks whose names differ in more than punctuation'),
    ({'tasks': ['dummy', 'dummy']}, 'a list of different task names'),
]


@pytest.mark.parametrize('overrides, message', REFUSED)
def test_refusals_are_one_line(overrides, message):
  with pytest.raises(ConfigError) as error:
    configs.resolve(overrides)
  assert message in str(error.value) and '\n' not in str(error.value)


def test_episodes_shorter_than_a_chunk_are_refused():
  # The debug config repeats actions 50 times: Pendulum's 200 steps are 4 decisions, 5 frames.
  with pytest.raises(ConfigError, match=r'longer than the 5-frame episodes of gym:Pendulum-v1 '
                                        r'\(200 environment steps at action_repeat 50\)'):
    configs.resolve({'tasks': ['gym:Pendulum-v1']}, 'debug')


def test_a_module_that_fails_to_import_is_one_line(tmp_path, monkeypatch):
  name = line_module(tmp_path, monkeypatch, 'raise RuntimeError("broken on import")\n')
  with pytest.raises(ConfigError) as error:
    configs.resolve({'tasks': [name]})
  assert str(error.value) == (
      f"task {name!r}: module 'planet_test_module' does not import (RuntimeError: broken on import); "
      'allowed: a module whose import registers the env.')


def test_checks_build_a_gym_env_once_and_no_dm_control_env(monkeypatch):
  tasks.gym_facts.cache_clear()
  gym_envs.BUILT.clear()
  for _ in range(2):
    params = configs.resolve({'tasks': ['gym:gym_envs:LineDict-v0']})
    build.task('gym:gym_envs:LineDict-v0', params)
  assert gym_envs.BUILT['LineDict-v0'] == 1

  def refuse(*args, **kwargs):
    raise AssertionError('a dm_control env was built')
  monkeypatch.setattr(wrappers, 'DeepMindEnv', refuse)
  params = configs.resolve({'tasks': ['cheetah_run', 'walker_walk']})
  assert [build.task(name, params).max_length for name in params['tasks']] == [250, 500]


def test_images_are_resized_with_antialiasing():
  frame = np.zeros((64, 64, 3), np.uint8)
  frame[::3] = 200
  assert wrappers.to_image(frame) is not frame
  np.testing.assert_array_equal(wrappers.to_image(frame), frame)  # the right size: unchanged
  stripes = np.zeros((192, 192, 3), np.uint8)
  stripes[:, 1::3] = 255
  # Every third column bright: a plain bilinear resize by 3 samples only those (255 everywhere);
  # the Gaussian before it (sigma 1) gives their weighted share.
  np.testing.assert_array_equal(wrappers.to_image(stripes)[4:-4, 4:-4], 103)
  grey = np.arange(24 * 40, dtype=np.uint8).reshape(24, 40)
  image = wrappers.to_image(grey)
  assert image.shape == (64, 64, 3)
  np.testing.assert_array_equal(image[..., 0], image[..., 1])
  assert image[0, 0, 0] == 0 and image[-1, -1, 0] == 191


def test_cem_imagines_one_hots_and_the_agent_feeds_them_back():
  seen = []

  def second_action(model, states):  # rewards choosing action 1 at every step
    seen.append(states['action'])
    return tf.reduce_sum(states['action'][..., 1], 1)

  stub = type('Stub', (), {'cell': type('Cell', (), {'imagine': staticmethod(
      lambda action, state: {'action': action})})})()
  tf.random.set_seed(0)
  state = {'sample': tf.zeros([1, 3])}
  mean = planning.cem(stub, state, 3, horizon=4, amount=50, topk=5, iterations=3,
                      objective=second_action, action_transform=planning.one_hot_argmax).numpy()
  imagined = np.concatenate([s.numpy() for s in seen])
  assert imagined.shape == (150, 4, 3) and set(np.unique(imagined)) == {0.0, 1.0}
  np.testing.assert_array_equal(imagined.sum(-1), 1)
  np.testing.assert_array_equal(mean[0].argmax(-1), [1, 1, 1, 1])  # the belief stays continuous
  assert np.abs(mean).max() < 1 and len(np.unique(mean)) > 3

  model = build.model(configs.resolve({}, 'debug'), action_size=3)
  agent = mpc_agent.MPCAgent(model, batch_size=2, horizon=3, amount=10, topk=2, iterations=2,
                             action_transform=planning.one_hot_argmax)
  images = np.random.RandomState(0).randint(0, 256, (2, 64, 64, 3)).astype(np.uint8)
  for noise in (0.0, 0.3):
    action = agent.policy({'image': images}, np.float32(noise)).numpy()
    assert action.shape == (2, 3) and set(np.unique(action)) <= {0.0, 1.0}
    np.testing.assert_array_equal(action.sum(1), 1)
    np.testing.assert_array_equal(agent._prev_action.numpy(), action)


def test_discrete_tasks_get_the_one_hot_agent():
  params = configs.resolve({'tasks': ['gym:CartPole-v1']}, 'debug')
  model = build.model(params, action_size=2)
  assert build.agent(params, model)._transform is planning.one_hot_argmax
  params = configs.resolve({'tasks': ['gym:Pendulum-v1'], 'action_repeat': 10}, 'debug')
  assert build.agent(params, build.model(params, action_size=1))._transform is None


def episode(length, terminal):
  return {'image': np.arange(length)[:, None] * np.ones((1, 2), np.uint8),
          'action': np.arange(length)[:, None] + np.zeros((1, 2), np.float32),
          'reward': np.arange(length, dtype=np.float32) + 1,
          'terminal': np.arange(length) == length - 1 if terminal else np.zeros(length, bool)}


def test_terminated_episodes_continue_in_their_absorbing_state():
  chunks = [next(episodes.chunk(episode(4, True), 10, 1, np.random.RandomState(seed)))
            for seed in range(200)]
  assert 'terminal' not in chunks[0] and len(chunks[0]['action']) == 10
  assert {int(c['image'][0, 0]) for c in chunks} == {0, 1, 2, 3}  # any recorded step can start one
  last = [c for c in chunks if c['image'][0, 0] == 3][0]
  np.testing.assert_array_equal(last['image'][:, 0], [3] * 10)  # the last frame repeated
  np.testing.assert_array_equal(last['reward'], [4] + [0] * 9)  # no reward after termination
  assert set(last['action'][1:, 0]) <= {1.0, 2.0, 3.0}  # the episode's own actions, not the reset's
  padded = np.concatenate([c['action'][:, 0] for c in chunks])
  assert set(padded) == {0.0, 1.0, 2.0, 3.0}
  # Several chunks of a terminated episode: padded as far as they need.
  assert [c['image'][-1, 0] for c in episodes.chunk(episode(4, True), 5, 3, np.random.RandomState(0))
          ] == [3, 3, 3]


def test_episodes_without_termination_are_cut_as_before():
  # dm_control episodes (truncated by the time limit) give the chunks and random draws of a file
  # without the flag.
  for length, num_chunks in ((21, 1), (50, 3), (50, None)):
    flagged, plain = episode(length, False), episode(length, False)
    del plain['terminal']
    first, second = np.random.RandomState(3), np.random.RandomState(3)
    ours = list(episodes.chunk(flagged, 10, num_chunks, first))
    theirs = list(episodes.chunk(plain, 10, num_chunks, second))
    assert len(ours) == len(theirs) and all(sorted(a) == sorted(b) for a, b in zip(ours, theirs))
    for a, b in zip(ours, theirs):
      for key in b:
        np.testing.assert_array_equal(a[key], b[key])
    assert first.randint(1 << 30) == second.randint(1 << 30)
  with pytest.raises(ConfigError, match='shorter than'):
    next(episodes.chunk(episode(5, False), 10))


def test_the_data_set_leaves_the_flag_out(tmp_path):
  for index in range(2):
    episodes.save(str(tmp_path), episode(6 + index, True))
  spec = dataset.spec(str(tmp_path), 10)
  assert sorted(spec) == ['action', 'image', 'reward']
  chunk = next(episodes.chunks(str(tmp_path), 'cache', 2, 10, 1, seed=0))
  assert sorted(chunk) == sorted(spec)


def test_several_gym_tasks_with_box_actions_share_one_agent():
  params = configs.resolve({'tasks': [LINE, 'dummy']})
  for task in build.tasks(params):
    env = task.env_ctor()
    obs, _ = env.reset(seed=0)
    assert set(obs) == {'image'} and task.state_components == ['reward']
    np.testing.assert_array_equal(env.action_space.low, [-1, -1])  # Line's 2 dimensions, dummy's 1
    env.close()


@pytest.mark.parametrize('name, isolate', [
    ('gym:gym_envs:LineDiscrete-v0', 'none'), ('gym:gym_envs:LineDiscrete-v0', 'thread'),
    pytest.param('gym:gym_envs:LineDiscrete-v0', 'process', marks=pytest.mark.slow),
    pytest.param('gym:Pendulum-v1', 'process', marks=pytest.mark.slow)])
def test_every_isolation(name, isolate):
  """A test module's env (imported again by the worker) and a classic-control one (rendered by pygame
  in the worker) give the same image, state and reward in every isolation."""
  task = build.task(name, configs.resolve({'tasks': [name]}))
  action = np.array([0, 0, 1] if task.discrete else [0.5], np.float32)
  env = async_env.AsyncEnv(task.env_ctor, isolate)
  try:
    obs, _ = env.reset(seed=3)
    obs, reward, *_ = env.step(action)
  finally:
    env.close()
  reference = task.env_ctor()
  reference.reset(seed=3)
  expected, expected_reward, *_ = reference.step(action)
  np.testing.assert_array_equal(obs['image'], expected['image'])
  np.testing.assert_array_equal(obs['state'], expected['state'])
  assert reward == expected_reward


def atari_task():
  pytest.importorskip('ale_py')
  return task_env('gym:ALE/Pong-v5')


def test_atari_pong_from_pixels_with_discrete_actions():
  task, env = atari_task()
  assert task.discrete and task.state_components == ['reward'] and task.max_length == 1000
  kwargs = inner(env).spec.kwargs  # gymnasium's v5 defaults: sticky actions, frame skip
  assert kwargs['repeat_action_probability'] == 0.25 and kwargs['frameskip'] == 4
  obs, _ = env.reset(seed=0)
  assert set(obs) == {'image'} and obs['image'].shape == (64, 64, 3) and obs['image'].std() > 0
  assert env.action_space.shape == (6,)
  for _ in range(3):
    *_, terminated, truncated, _ = env.step(np.array([0, 0, 0.5, -1, 0, 0], np.float32))
  assert not terminated and not truncated
  env.close()


def reference_episode(env_id, actions, image, **kwargs):
  """An episode of the stack the gymnasium presets had: the env made with rgb_array rendering, actions
  rescaled from [-1, 1] by gymnasium and repeated 50 times (the debug config), one image a decision."""
  env = gymnasium.make(env_id, render_mode='rgb_array', **kwargs)
  ones = np.ones(env.action_space.shape, np.float32)
  env = gymnasium.wrappers.RescaleAction(env, -ones, ones)
  obs, _ = env.reset(seed=0)
  frames, rewards = [image(env, obs)], [0.0]
  for action in actions:
    total = 0.0
    for _ in range(50):
      obs, reward, terminated, truncated, _ = env.step(action)
      total += reward
      if terminated or truncated:
        break
    frames.append(image(env, obs))
    rewards.append(total)
  env.close()
  return np.stack(frames), np.array(rewards, np.float32)


PRESETS = {
    'gym_cheetah': ('HalfCheetah-v5', lambda env, obs: env.render(), {'width': 64, 'height': 64}),
    # The racecar's own 96x96 observation, resized as the preset did.
    'gym_racecar': ('CarRacing-v3', lambda env, obs: resize(
        obs, (64, 64), order=1, mode='edge', preserve_range=True).astype(np.uint8), {}),
}


@pytest.mark.parametrize('name', [
    'gym_cheetah', pytest.param('gym_racecar', marks=pytest.mark.slow)])  # Box2D
def test_presets_have_the_pixels_and_episodes_of_their_old_stacks(name):
  pytest.importorskip('Box2D' if name == 'gym_racecar' else 'mujoco')
  env_id, image, kwargs = PRESETS[name]
  task = tasks.make(name, 50, overrides={'episode_steps': 250})  # 5 decisions of 50 steps
  env = wrappers.RecordEpisodes(task.env_ctor())
  actions = np.random.RandomState(0).uniform(-1, 1, (5,) + env.action_space.shape).astype(np.float32)
  env.reset(seed=0)
  for action in actions:
    *_, terminated, truncated, _ = env.step(action)
  assert truncated and not terminated
  episode = env.last_episode
  env.close()
  frames, rewards = reference_episode(env_id, actions, image, **kwargs)
  np.testing.assert_array_equal(episode['image'], frames)
  np.testing.assert_array_equal(episode['reward'], rewards)
  np.testing.assert_array_equal(episode['action'][1:], actions)


DEBUG_RUNS = {  # the task's debug run: its isolation and settings; the state size (test_every_isolation
               # runs each kind of env in each isolation; a debug run in a worker process costs a minute)
    'gym:CartPole-v1': ({'isolate_envs': 'none', 'task_settings': {
        'gym:CartPole-v1': {'action_repeat': 4}}}, 4),
    'gym:Pendulum-v1': ({'isolate_envs': 'none', 'task_settings': {
        'gym:Pendulum-v1': {'action_repeat': 10}}}, 3),
    LINE: ({'isolate_envs': 'thread', 'task_settings': {LINE: {'action_repeat': 1}}}, 2),
}


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(DEBUG_RUNS))
def test_debug_run_to_the_end(debug_run, name):
  overrides, state_size = DEBUG_RUNS[name]
  run = debug_run(tasks=[name], max_steps=30, seed=0, **overrides)
  task = build.task(name, run.params)
  assert len(run.scores) == 1 and np.isfinite(run.scores[0])
  for phase in ('train', 'test'):
    files = episodes.filenames(os.path.join(run.logdir, f'{phase}_episodes'))
    assert len(files) == 2 and all(f'_{task.name}-' in os.path.basename(f) for f in files)
    for path in files:
      episode = episodes.load(path)
      frames = len(episode['reward'])
      assert 2 <= frames <= task.max_length + 1
      assert episode['image'].shape == (frames, 64, 64, 3) and episode['image'].std() > 0
      assert episode['state'].shape == (frames, state_size)
      assert bool(episode['terminal'][-1]) == (frames < task.max_length + 1)
      if task.discrete:
        np.testing.assert_array_equal(episode['action'][1:].sum(1), 1)
      else:
        assert np.abs(episode['action']).max() <= 1
  if name == 'gym:CartPole-v1':  # 4 steps a decision: the pole falls in a few decisions
    lengths = [len(episodes.load(p)['reward']) for p in episodes.filenames(
        os.path.join(run.logdir, 'train_episodes'))]
    assert max(lengths) < 40


@pytest.mark.slow
def test_cli_refuses_an_unknown_gym_id(run_train, tmp_path):
  logdir = tmp_path / 'logs'
  code, _, stderr = run_train('--logdir', str(logdir), '--params', '{tasks: [gym:Pendulum-v9]}',
                              timeout=120)
  lines = [line for line in stderr.splitlines() if line.startswith('error:')]
  assert code == 2 and len(lines) == 1 and 'near: Pendulum-v1' in lines[0]
  assert not logdir.exists()
