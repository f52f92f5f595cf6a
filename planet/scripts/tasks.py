"""The tasks of the paper (spec 3.1): dm_control suite tasks rendered at 64x64, and a dummy task.

A task is a name, an env constructor, the episode length in decisions and the state components the
environment observes besides the image.
"""

import collections
import functools

from planet.control import wrappers

Task = collections.namedtuple('Task', 'name, env_ctor, max_length, state_components')

# name: (domain, task, action repeat, state components)
DM_CONTROL = {
    'cartpole_balance': ('cartpole', 'balance', 8, ['reward', 'position', 'velocity']),
    'cartpole_swingup': ('cartpole', 'swingup', 8, ['reward', 'position', 'velocity']),
    'finger_spin': ('finger', 'spin', 2, ['reward', 'position', 'velocity', 'touch']),
    'cheetah_run': ('cheetah', 'run', 4, ['reward', 'position', 'velocity']),
    'cup_catch': ('ball_in_cup', 'catch', 4, ['reward', 'position', 'velocity']),
    'walker_walk': ('walker', 'walk', 2, ['reward', 'height', 'orientations', 'velocity']),
    'reacher_easy': ('reacher', 'easy', 4, ['reward', 'position', 'velocity', 'to_target']),
}
# name: (gymnasium id, action repeat, state components); need `pip install -e .[gym]`.
GYM = {
    'gym_cheetah': ('HalfCheetah-v5', 1, ['reward', 'state']),
    'gym_racecar': ('CarRacing-v3', 1, ['reward']),
}
DUMMY = {'dummy': (1, ['reward'])}
TASKS = tuple(DM_CONTROL) + tuple(GYM) + tuple(DUMMY)


def action_repeat(name, override=None):
  if override:
    return override
  if name in DM_CONTROL:
    return DM_CONTROL[name][2]
  return GYM[name][1] if name in GYM else DUMMY[name][0]


def max_length(name, override=None):
  """Decisions per episode: 1000 environment steps divided by the action repeat."""
  return 1000 // action_repeat(name, override)


def state_components(names):
  """The state components of the tasks: those of the one task, or just the reward for several (3.4)."""
  if len(names) > 1:
    return ['reward']
  name, = names
  if name in DM_CONTROL:
    return list(DM_CONTROL[name][3])
  return list(GYM[name][2] if name in GYM else DUMMY[name][1])


def task(name, params):
  repeat = action_repeat(name, params['action_repeat'])
  length = 1000 // repeat
  if name in DM_CONTROL:
    domain, task_name, _, components = DM_CONTROL[name]
    make = functools.partial(
        wrappers.DeepMindEnv, domain, task_name, (64, 64), params['camera_id'])
  elif name in GYM:
    gym_id, _, components = GYM[name]
    ctor = functools.partial(_gym_env, gym_id, repeat, length, params['batch_shape'][1])
    return Task(name, ctor, length, components)
  else:
    components = DUMMY[name][1]
    make = wrappers.DummyEnv
  return Task(name, functools.partial(_env, make, repeat, length), length, components)


def _env(make, repeat, length, seed=None):
  """The wrapper stack of spec 3.2, innermost first."""
  env = make(seed=seed)
  env = wrappers.ActionRepeat(env, repeat)
  env = wrappers.MaximumDuration(env, length)
  env = wrappers.PixelObservations(env, (64, 64), 'image')
  return wrappers.ConvertTo32Bit(env)


def _gym_env(gym_id, repeat, length, min_length, seed=None):
  """The gym wrapper stack of spec 3.2: normalised actions, at least one chunk, at most `length`."""
  if gym_id.startswith('CarRacing'):
    env = wrappers.GymEnv(gym_id, seed)
  else:  # MuJoCo gym envs render at the size asked for, like dm_control.
    env = wrappers.GymEnv(gym_id, seed, width=64, height=64)
  env = wrappers.ActionRepeat(env, repeat)
  env = wrappers.NormalizeActions(env)
  env = wrappers.MinimumDuration(env, min_length)
  env = wrappers.MaximumDuration(env, length)
  if gym_id.startswith('CarRacing'):
    env = wrappers.ObservationDict(env, 'image')
    env = wrappers.ObservationToRender(env, 'image')
  else:
    env = wrappers.ObservationDict(env, 'state')
  env = wrappers.PixelObservations(env, (64, 64), 'image')
  return wrappers.ConvertTo32Bit(env)


def tasks(params):
  """The Task of each name in params['tasks']. Several tasks share one agent (spec 3.4): each env keeps
  only the image and pads its action space to the union of all tasks' spaces; the model acts in the
  largest action space, and each env executes only its own leading dimensions."""
  result = [task(name, params) for name in params['tasks']]
  if len(result) == 1:
    return result
  spaces = []
  for each in result:
    env = each.env_ctor()
    spaces.append(env.action_space)
    env.close()
  return [Task(each.name, functools.partial(_multi_task_env, each.env_ctor, spaces),
               each.max_length, ['reward']) for each in result]


def _multi_task_env(env_ctor, spaces, seed=None):
  env = wrappers.SelectObservations(env_ctor(seed=seed), ['image'])
  return wrappers.PadActions(env, spaces)
