"""Small gymnasium envs for the tests, registered when this module is imported: the task
`gym:gym_envs:Line-v0` imports it (gymnasium's `module:EnvId` form), in env worker processes too.

Line: a point on a line, x in [-1, 1], starts uniformly in [-0.5, 0.5]; it moves by 0.1 x velocity a
step; the reward is 1 - |x|; it terminates when |x| > 1; 50 steps at most. Variants differ in their
spaces: the observation (a vector, a Dict, a grey image, Text) and the action (a Box with the velocity
in its second dimension and other bounds than [-1, 1], Discrete(3, start=-1) velocities, MultiDiscrete).
It renders a 24x40 rgb_array frame (a white column at x), resized by the tasks to 64x64.
"""

import collections

import gymnasium
import numpy as np
from gymnasium import spaces

BUILT = collections.Counter()  # env id -> constructions in this process

OBSERVATIONS = {
    'vector': lambda: spaces.Box(-np.inf, np.inf, (2,), np.float32),
    'dict': lambda: spaces.Dict({'x': spaces.Box(-2, 2, (1,), np.float32), 'side': spaces.Discrete(2)}),
    'grey': lambda: spaces.Box(0, 255, (24, 40), np.uint8),
    'text': lambda: spaces.Text(5),
}
ACTIONS = {
    'box': lambda: spaces.Box(np.array([0, -2], np.float32), np.array([1, 2], np.float32)),
    'discrete': lambda: spaces.Discrete(3, start=-1),
    'multi': lambda: spaces.MultiDiscrete([3, 3]),
}


class Line(gymnasium.Env):

  metadata = {'render_modes': ['rgb_array'], 'render_fps': 10}

  def __init__(self, render_mode=None, observation='vector', action='box', name='Line-v0'):
    BUILT[name] += 1
    self.render_mode = render_mode
    self.observation_space = OBSERVATIONS[observation]()
    self.action_space = ACTIONS[action]()
    self._observation = observation
    self.received = []  # the actions the env was stepped with
    self._x, self._t = 0.0, 0

  def reset(self, *, seed=None, options=None):
    super().reset(seed=seed)
    self._x, self._t = float(self.np_random.uniform(-0.5, 0.5)), 0
    return self._obs(), {}

  def step(self, action):
    self.received.append(np.array(action))
    velocity = float(action) if np.ndim(action) == 0 else float(action[1]) / 2
    self._x += 0.1 * velocity
    self._t += 1
    return self._obs(), 1 - abs(self._x), abs(self._x) > 1, False, {}

  def _obs(self):
    if self._observation == 'vector':
      return np.array([self._x, self._t / 50], np.float32)
    if self._observation == 'dict':
      return {'x': np.array([self._x], np.float32), 'side': int(self._x > 0)}
    if self._observation == 'grey':
      return self.render()[..., 0]
    return 'line'

  def render(self):
    frame = np.zeros((24, 40, 3), np.uint8)
    frame[:, int(np.clip((self._x + 1) / 2 * 39, 0, 39))] = 255
    return frame


class Unrendered(Line):
  metadata = {'render_modes': [], 'render_fps': 10}


class Broken(Line):
  def __init__(self, **kwargs):
    raise RuntimeError('this env does not build')


for _id, _entry, _kwargs in [
    ('Line-v0', Line, {}),
    ('Line_v0', Line, {}),  # the same file name as Line-v0
    ('LineDiscrete-v0', Line, {'action': 'discrete'}),
    ('LineDict-v0', Line, {'observation': 'dict'}),
    ('LineGrey-v0', Line, {'observation': 'grey'}),
    ('LineText-v0', Line, {'observation': 'text'}),
    ('LineMulti-v0', Line, {'action': 'multi'}),
    ('LineUnrendered-v0', Unrendered, {}),
    ('LineBroken-v0', Broken, {}),
]:
  gymnasium.register(_id, f'{__name__}:{_entry.__name__}', max_episode_steps=50,
                     kwargs={**_kwargs, 'name': _id})
