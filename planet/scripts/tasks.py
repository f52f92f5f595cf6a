"""The tasks: dm_control suite tasks rendered at 64x64, any gymnasium env by its id, and a dummy task.

A task is a name of the TASKS registry or `gym:` and a gymnasium id:

  cartpole_swingup                a registered task (below)
  gym:Pendulum-v1                 an env of gymnasium's registry
  gym:my_package.envs:MyEnv-v0    gymnasium's own form: importing the module registers the env
  gym:ALE/Pong-v5                 Atari (the `atari` extra): the ALE namespace imports ale_py

Adding a dm_control task is one line:

  TASKS.register('hopper_hop', dm_control('hopper', 'hop', repeat=4, state=['position', 'velocity', 'touch']))

A gymnasium preset (a name for an id with its own action repeat) is one line too:

  TASKS.register('gym_pendulum', gym('Pendulum-v1', action_repeat=2))

Adding an env family is one function that builds the env stack (like `_dm_control_env` below, taking
the family's options, the `Settings` and a seed) plus one line registering a task that uses it:

  TASKS.register('my_task', TaskSpec(_my_env, action_repeat=2, state_components=('reward',)))

A task's environment observes a dict of float32 state components plus the uint8 `image`; an episode is
`episode_steps` environment steps (1000 unless the task or its settings say otherwise), that is
episode_steps // action_repeat decisions. A gymnasium env's facts (its spaces, whether it renders, its
time limit) come from building it once per process; dm_control tasks are checked without building.
"""

import collections
import dataclasses
import difflib
import functools
import importlib
import os
import re

import gymnasium
import numpy as np
from gymnasium import spaces

from planet.control import wrappers
from planet.errors import ConfigError
from planet.tools.registry import Registry

class Task(collections.namedtuple(
    'Task', 'name, env_ctor, max_length, state_components, images, discrete, settings',
    defaults=(True, False, None))):
  """A task ready to run: its file-safe name (collections and episode files use it), the env
  constructor, the episode length in decisions, the state components it observes besides the image,
  whether its env has an `image` (`images`), whether its actions are one-hot scores of a Discrete space
  (`discrete`), and its Settings. Its env's spaces are read once, from one env, when first asked."""
  __slots__ = ()

  @property
  def action_space(self):
    """The action space of the env (after the task's wrappers: what the agent acts in)."""
    return _spaces(self.env_ctor)[0]

  @property
  def observation_space(self):
    """The observation space of the env, a Dict of the image and the state components."""
    return _spaces(self.env_ctor)[1]


@functools.lru_cache(maxsize=None)
def _spaces(env_ctor):
  """(action space, observation space) of the env `env_ctor` makes, built once per constructor."""
  env = env_ctor()
  try:
    return env.action_space, env.observation_space
  finally:
    env.close()

GYM = 'gym:'
# gymnasium namespaces whose envs are registered by importing a module.
NAMESPACE_MODULES = {'ALE': 'ale_py'}
IMAGE_SOURCES = ('auto', 'observation', 'render')


@dataclasses.dataclass(frozen=True)
class Settings:
  """What every env family gets: the action repeat, the episode length in decisions, the dm_control
  camera and the episode length in environment steps."""
  action_repeat: int
  max_length: int
  camera_id: int = 0
  episode_steps: int = 1000


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """An entry of TASKS: the env family (a function `make_env(**options, settings=, seed=)`), the task's
  action repeat, the state components it observes besides the image, the family's options, the episode
  length in environment steps, whether the env has an image and whether its actions are discrete."""
  make_env: object
  action_repeat: int
  state_components: tuple
  options: dict = dataclasses.field(default_factory=dict)
  episode_steps: int = 1000
  images: bool = True
  discrete: bool = False


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


def _gym_env(env_id, image, kwargs, settings, seed=None):
  """A gymnasium env: `episode_steps` environment steps at most (its own time limit replaced), the
  action repeated, Box actions rescaled to [-1, 1] or Discrete ones as one-hot scores, at most
  `max_length` decisions, the `image` (from `image`: 'observation', 'render' or None) and the `state`
  vector. gymnasium envs are seeded by `reset(seed=...)`, not at construction."""
  del seed
  if 'width' in kwargs:  # MuJoCo renders with EGL next to TensorFlow.
    from planet.control import rendering
    rendering.preload_mesa()
  if 'render_mode' in kwargs:  # pygame (classic control, Box2D) draws rgb_array frames without a display.
    os.environ.setdefault('SDL_VIDEODRIVER', 'dummy')
  env = gymnasium.make(env_id, max_episode_steps=settings.episode_steps, **kwargs)
  env = wrappers.ActionRepeat(env, settings.action_repeat)
  if isinstance(env.action_space, spaces.Discrete):
    env = wrappers.OneHotActions(env)
  else:
    ones = np.ones(env.action_space.shape, np.float32)
    env = gymnasium.wrappers.RescaleAction(env, -ones, ones)
  env = gymnasium.wrappers.TimeLimit(env, settings.max_length)
  env = wrappers.ImageAndState(env, image)
  env = wrappers.ConvertTo32Bit(env)
  return gymnasium.wrappers.OrderEnforcing(env)


@dataclasses.dataclass(frozen=True)
class GymFacts:
  """What building a gymnasium env once tells: the id to make it by, the keyword arguments it is made
  with, whether its observation holds an image, whether it renders rgb_array, whether a state vector is
  left, whether its actions are Discrete and its own time limit in environment steps (or None)."""
  make_id: str
  kwargs: dict
  image_observation: bool
  renders: bool
  state: bool
  discrete: bool
  time_limit: object


def _one_line(error):
  text = ' '.join(str(error).split())
  return f'{type(error).__name__}: {text}' if text else type(error).__name__


def _import(name, module):
  try:
    importlib.import_module(module)
  except Exception as e:  # Any error while importing: the import runs the user's code.
    hint = ' (pip install -e .[atari])' if module == 'ale_py' else ''
    raise ConfigError(f'task {name!r}: module {module!r} does not import ({_one_line(e)}){hint}; '
                      'allowed: a module whose import registers the env.') from None


def _creator(env_spec):
  entry = env_spec.entry_point
  if callable(entry):
    return entry
  from gymnasium.envs.registration import load_env_creator
  return load_env_creator(entry)


def _is_mujoco(creator):
  """A gymnasium MuJoCo env, which renders directly at a requested width and height."""
  return any(getattr(base, '__module__', '').startswith('gymnasium.envs.mujoco')
             for base in getattr(creator, '__mro__', ()))


@functools.lru_cache(maxsize=None)
def gym_facts(env_id):
  """The GymFacts of a gymnasium id (`Id-v0`, `module:Id-v0`, `Namespace/Id-v0`), building the env once
  per process; a bad id, module, env or space is a one-line ConfigError."""
  name = GYM + env_id
  module, _, env_name = env_id.rpartition(':')
  namespace = env_name.split('/')[0] if '/' in env_name else None
  module = module or NAMESPACE_MODULES.get(namespace, '')
  if module:
    _import(name, module)
  if env_name not in gymnasium.registry:
    close = difflib.get_close_matches(env_name, list(gymnasium.registry), n=3, cutoff=0.6)
    near = f' (near: {", ".join(close)})' if close else ''
    raise ConfigError(f'unknown task {name!r}: gymnasium has no env {env_name!r}{near}; allowed: '
                      f'gym:<id of gymnasium\'s registry>, gym:<module>:<EnvId> or {", ".join(TASKS)}.')
  make_id = f'{module}:{env_name}' if module else env_name
  kwargs = {}
  try:
    creator = _creator(gymnasium.spec(env_name))
    metadata = getattr(creator, 'metadata', None)
    modes = metadata.get('render_modes') or () if isinstance(metadata, dict) else ()
    if 'rgb_array' in modes:
      kwargs['render_mode'] = 'rgb_array'
      if _is_mujoco(creator):
        kwargs.update(width=64, height=64)
    env = gymnasium.make(make_id, **kwargs)
  except Exception as e:  # Any error of the env's own code: missing dependencies, bad arguments, ...
    raise ConfigError(f'task {name!r}: the env does not build ({_one_line(e)}).') from None
  try:
    try:
      image, rest = wrappers.observation_parts(env.observation_space)
    except ValueError:
      raise ConfigError(
          f'task {name!r}: observation space {env.observation_space} is neither an image nor a vector; '
          'allowed: an image (uint8, H x W x 3 or 1), a vector (anything gymnasium flattens: Box, '
          'Discrete, MultiDiscrete, MultiBinary, Tuple) or a Dict of those with at most one image.'
      ) from None
    action_space = env.action_space
    box = (isinstance(action_space, spaces.Box) and len(action_space.shape) == 1 and
           np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all())
    if not box and not isinstance(action_space, spaces.Discrete):
      raise ConfigError(f'task {name!r}: action space {action_space}; allowed: Box (one dimension, '
                        'finite bounds) or Discrete.')
    return GymFacts(make_id, kwargs, image is not None, 'render_mode' in kwargs, rest is not None,
                    isinstance(action_space, spaces.Discrete), env.spec.max_episode_steps)
  finally:
    env.close()


def _gym_spec(env_id, action_repeat=1, image='auto'):
  """The TaskSpec of a gymnasium id with an image source: `auto` (the observation's image, else
  `render()`, else none), `observation` or `render`."""
  facts = gym_facts(env_id)
  name = GYM + env_id
  if image == 'observation' and not facts.image_observation:
    raise ConfigError(f'task {name!r}: image source observation, but its observations hold no image; '
                      'allowed: auto or render.')
  if image == 'render' and not facts.renders:
    raise ConfigError(f'task {name!r}: image source render, but it has no rgb_array render mode; '
                      'allowed: auto or observation.')
  if image == 'auto':
    image = 'observation' if facts.image_observation else 'render' if facts.renders else None
  options = {'env_id': facts.make_id, 'image': image, 'kwargs': facts.kwargs}
  return TaskSpec(_gym_env, action_repeat, ('reward', 'state') if facts.state else ('reward',),
                  options, facts.time_limit or 1000, image is not None, facts.discrete)


def gym(env_id, action_repeat=1):
  """A gymnasium task for TASKS: built lazily, when a run uses it, with the run's image source."""
  return functools.partial(_gym_spec, env_id, action_repeat)


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
    # gymnasium presets need `pip install -e .[gym]`; any other id works as `gym:<id>`.
    'gym_cheetah': gym('HalfCheetah-v5'),
    'gym_racecar': gym('CarRacing-v3'),
    'dummy': TaskSpec(_dummy_env, 1, ('reward',)),
})


def spec(name, image='auto'):
  """The TaskSpec of a task name (registered or `gym:<id>`) with an image source; a name that is not a
  task is a one-line ConfigError."""
  if not isinstance(name, str):
    raise ConfigError(f'task {name!r}: allowed: a task name.')
  if name.startswith(GYM):
    entry = gym(name[len(GYM):])
  elif name in TASKS:
    entry = TASKS[name]
  else:
    close = difflib.get_close_matches(name, list(TASKS), n=1, cutoff=0.6)
    hint = f' (did you mean {close[0]!r}?)' if close else ''
    raise ConfigError(f'unknown task {name!r}{hint}; allowed: {", ".join(TASKS)} or gym:<gymnasium id>.')
  if isinstance(entry, TaskSpec):
    if image != 'auto':
      raise ConfigError(f'task {name!r}: image source {image}, but only gymnasium tasks choose theirs; '
                        'allowed: auto.')
    return entry
  return entry(image=image)


def file_name(name):
  """A task name as collection and episode file names use it: `gym:ALE/Pong-v5` -> `gym_ALE_Pong_v5`."""
  return re.sub(r'[^A-Za-z0-9_]', '_', name)


def make(name, action_repeat=None, camera_id=0, overrides=None):
  """The Task of a name. Its settings: `overrides` (the task's entry of `task_settings`: action_repeat,
  episode_steps, image) win over the global `action_repeat`, which wins over the task's own."""
  overrides = overrides or {}
  entry = spec(name, overrides.get('image', 'auto'))
  repeat = overrides.get('action_repeat') or action_repeat or entry.action_repeat
  steps = overrides.get('episode_steps') or entry.episode_steps
  settings = Settings(repeat, steps // repeat, camera_id, steps)
  ctor = functools.partial(entry.make_env, **entry.options, settings=settings)
  return Task(file_name(name), ctor, settings.max_length, list(entry.state_components), entry.images,
              entry.discrete, settings)


def state_components(names):
  """The state components of the tasks: those of the one task, or just the reward for several."""
  if len(names) > 1:
    return ['reward']
  return list(spec(names[0]).state_components)


def observed_components(observations, names):
  """The state components that the `observations` param feeds to the model, in order: every
  component of the task but the reward for `state`, the named ones otherwise, none for `[image]`."""
  vector = [name for name in observations if name != 'image']
  if vector == ['state']:
    return [name for name in state_components(names) if name != 'reward']
  return vector


def share_agent(task_list):
  """Several tasks share one agent: each env keeps only the image and pads its action space to the
  union of all tasks' spaces; the model acts in the largest action space, and each env executes only
  its own leading dimensions. The state components reduce to the reward. (Discrete tasks are refused
  when the params are checked: a padded one-hot is not a one-hot of the task's own actions.)"""
  if len(task_list) == 1:
    return task_list
  action_spaces = [each.action_space for each in task_list]
  return [each._replace(env_ctor=functools.partial(_multi_task_env, each.env_ctor, action_spaces),
                        state_components=['reward']) for each in task_list]


def _multi_task_env(env_ctor, action_spaces, seed=None):
  env = gymnasium.wrappers.FilterObservation(env_ctor(seed=seed), ['image'])
  return wrappers.PadActions(env, action_spaces)
