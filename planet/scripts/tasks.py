"""The tasks: dm_control suite tasks rendered at 64x64, gymnasium tasks and a dummy task, each one line
of the TASKS registry.

Adding a dm_control task is one line:

  TASKS.register('hopper_hop', dm_control('hopper', 'hop', repeat=4, state=['position', 'velocity', 'touch']))

Adding an env family is one function that builds the env stack (like `_dm_control_env` below, taking
the family's options, the `Settings` and a seed) plus one line registering a task that uses it:

  TASKS.register('my_task', TaskSpec(_my_env, action_repeat=2, state_components=('reward',)))

A task's environment observes a dict of float32 state components plus the uint8 `image`; an episode is
1000 environment steps, that is 1000 // action_repeat decisions.
"""

import collections
import dataclasses
import functools

import gymnasium
import numpy as np
from gymnasium import spaces

from planet.control import wrappers
from planet.tools.registry import Registry

Task = collections.namedtuple('Task', 'name, env_ctor, max_length, state_components')


@dataclasses.dataclass(frozen=True)
class Settings:
  """What every env family gets: the action repeat, the episode length in decisions, the dm_control
  camera and the minimum episode length (one chunk)."""
  action_repeat: int
  max_length: int
  camera_id: int = 0
  min_length: int = 1


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """An entry of TASKS: the env family (a function `make_env(**options, settings=, seed=)`), the task's
  action repeat, the state components it observes besides the image, and the family's options."""
  make_env: object
  action_repeat: int
  state_components: tuple
  options: dict = dataclasses.field(default_factory=dict)


def _dm_control_env(domain, task, settings, seed=None):
  env = wrappers.DeepMindEnv(domain, task, (64, 64), settings.camera_id, seed=seed)
  env = wrappers.ActionRepeat(env, settings.action_repeat)
  env = gymnasium.wrappers.TimeLimit(env, settings.max_length)
  return _finish(env)


def _dummy_env(settings, seed=None):
  env = wrappers.ActionRepeat(wrappers.DummyEnv(seed=seed), settings.action_repeat)
  env = gymnasium.wrappers.TimeLimit(env, settings.max_length)
  return _finish(env)


def _finish(env):
  """The image observation, 32-bit values, and an error when stepping before a reset."""
  env = gymnasium.wrappers.AddRenderObservation(env, render_only=False, render_key='image')
  env = wrappers.ConvertTo32Bit(env)
  return gymnasium.wrappers.OrderEnforcing(env)


def _gym_env(gym_id, settings, seed=None):
  """A gymnasium MuJoCo env: rendered at 64x64 beside its state vector, actions normalised to [-1, 1],
  episodes of at least one chunk and at most max_length decisions."""
  from planet.control import rendering
  rendering.preload_mesa()
  env = gymnasium.make(gym_id, render_mode='rgb_array', width=64, height=64)
  env = _gym_common(env, settings)
  env = gymnasium.wrappers.AddRenderObservation(
      env, render_only=False, render_key='image', obs_key='state')
  env = wrappers.ConvertTo32Bit(env)
  return gymnasium.wrappers.OrderEnforcing(env)


def _gym_racecar_env(settings, seed=None):
  """CarRacing: its own 96x96 image observation, resized to 64x64, is the image."""
  from skimage.transform import resize
  env = _gym_common(gymnasium.make('CarRacing-v3', render_mode='rgb_array'), settings)
  to_image = lambda obs: {'image': resize(
      obs, (64, 64), order=1, mode='edge', preserve_range=True).astype(np.uint8)}
  env = gymnasium.wrappers.TransformObservation(
      env, to_image, spaces.Dict({'image': spaces.Box(0, 255, (64, 64, 3), np.uint8)}))
  env = wrappers.ConvertTo32Bit(env)
  return gymnasium.wrappers.OrderEnforcing(env)


def _gym_common(env, settings):
  env = wrappers.ActionRepeat(env, settings.action_repeat)
  ones = np.ones(env.action_space.shape, np.float32)
  env = gymnasium.wrappers.RescaleAction(env, -ones, ones)
  env = wrappers.MinimumDuration(env, settings.min_length)
  return gymnasium.wrappers.TimeLimit(env, settings.max_length)


def dm_control(domain, task, repeat, state):
  return TaskSpec(_dm_control_env, repeat, ('reward',) + tuple(state), {'domain': domain, 'task': task})


TASKS = Registry('task', {
    'cartpole_balance': dm_control('cartpole', 'balance', 8, ['position', 'velocity']),
    'cartpole_swingup': dm_control('cartpole', 'swingup', 8, ['position', 'velocity']),
    'finger_spin': dm_control('finger', 'spin', 2, ['position', 'velocity', 'touch']),
    'cheetah_run': dm_control('cheetah', 'run', 4, ['position', 'velocity']),
    'cup_catch': dm_control('ball_in_cup', 'catch', 4, ['position', 'velocity']),
    'walker_walk': dm_control('walker', 'walk', 2, ['height', 'orientations', 'velocity']),
    'reacher_easy': dm_control('reacher', 'easy', 4, ['position', 'velocity', 'to_target']),
    # gymnasium tasks need `pip install -e .[gym]`.
    'gym_cheetah': TaskSpec(_gym_env, 1, ('reward', 'state'), {'gym_id': 'HalfCheetah-v5'}),
    'gym_racecar': TaskSpec(_gym_racecar_env, 1, ('reward',)),
    'dummy': TaskSpec(_dummy_env, 1, ('reward',)),
})


def action_repeat(name, override=None):
  return override or TASKS[name].action_repeat


def max_length(name, override=None):
  """Decisions per episode: 1000 environment steps divided by the action repeat."""
  return 1000 // action_repeat(name, override)


def state_components(names):
  """The state components of the tasks: those of the one task, or just the reward for several."""
  if len(names) > 1:
    return ['reward']
  return list(TASKS[names[0]].state_components)


def observed_components(observations, names):
  """The state components that the `observations` param feeds to the model, in order: every
  component of the task but the reward for `state`, the named ones otherwise, none for `[image]`."""
  vector = [name for name in observations if name != 'image']
  if vector == ['state']:
    return [name for name in state_components(names) if name != 'reward']
  return vector


def make(name, action_repeat_override=None, camera_id=0, min_length=1):
  """The Task of a registered name."""
  spec = TASKS[name]
  repeat = action_repeat(name, action_repeat_override)
  settings = Settings(repeat, 1000 // repeat, camera_id, min_length)
  ctor = functools.partial(spec.make_env, **spec.options, settings=settings)
  return Task(name, ctor, settings.max_length, list(spec.state_components))


def share_agent(task_list):
  """Several tasks share one agent: each env keeps only the image and pads its action space to the
  union of all tasks' spaces; the model acts in the largest action space, and each env executes only
  its own leading dimensions. The state components reduce to the reward."""
  if len(task_list) == 1:
    return task_list
  action_spaces = []
  for each in task_list:
    env = each.env_ctor()
    action_spaces.append(env.action_space)
    env.close()
  return [Task(each.name, functools.partial(_multi_task_env, each.env_ctor, action_spaces),
               each.max_length, ['reward']) for each in task_list]


def _multi_task_env(env_ctor, action_spaces, seed=None):
  env = gymnasium.wrappers.FilterObservation(env_ctor(seed=seed), ['image'])
  return wrappers.PadActions(env, action_spaces)
