"""Environment wrappers with gymnasium's API (reset -> (obs, info); step -> obs, reward, terminated,
truncated, info). Observations are dicts of float32 arrays plus the uint8 `image`.

Task stacks use gymnasium's own wrappers where they do the job (TimeLimit, OrderEnforcing,
AddRenderObservation, FilterObservation, RescaleAction; see scripts/tasks.py). The classes here are
the ones gymnasium lacks or where the behaviour must differ, each saying why.
"""

import gymnasium
import numpy as np
from gymnasium import spaces

from planet.control import rendering


class DeepMindEnv(gymnasium.Env):
  """A dm_control suite task as a gymnasium env (gymnasium has no dm_control adapter). Renders 64x64
  pixels directly with MuJoCo. `reset(seed=s)` reseeds the task's random state, so an episode is a
  function of its seed."""

  metadata = {'render_modes': ['rgb_array']}

  def __init__(self, domain, task, render_size=(64, 64), camera_id=0, seed=None):
    rendering.preload_mesa()
    from dm_control import suite
    self._env = suite.load(domain, task, task_kwargs={'random': seed})
    self._render_size = tuple(render_size)
    # An offscreen buffer of exactly the render size instead of 640x480: the same pixels (the viewport
    # was already render_size; tests/test_wrappers.py). Measured: about 10% less time per bare render,
    # 0-4% more decisions per second through the whole wrapper stack (scripts/benchmark.py).
    buffer = self._env.physics.model.vis.global_
    buffer.offheight, buffer.offwidth = self._render_size
    self._camera_id = camera_id
    self.render_mode = 'rgb_array'
    self.observation_space = spaces.Dict({
        key: spaces.Box(-np.inf, np.inf, tuple(spec.shape), np.float32)
        for key, spec in self._env.observation_spec().items()})
    spec = self._env.action_spec()
    self.action_space = spaces.Box(
        spec.minimum.astype(np.float32), spec.maximum.astype(np.float32), dtype=np.float32)

  def _obs(self, time_step):
    return {k: np.asarray(v, np.float32).reshape(self.observation_space[k].shape)
            for k, v in time_step.observation.items()}

  def reset(self, *, seed=None, options=None):
    super().reset(seed=seed)
    if seed is not None:
      self._env.task.random.seed(seed)
    return self._obs(self._env.reset()), {}

  def step(self, action):
    time_step = self._env.step(action)
    last = time_step.last()
    # The suite's time limit ends an episode with discount 1 (truncation); a task failure with 0.
    terminated = bool(last and time_step.discount == 0.0)
    truncated = bool(last and not terminated)
    reward = time_step.reward or 0.0
    return self._obs(time_step), reward, terminated, truncated, {'discount': time_step.discount}

  def render(self):
    height, width = self._render_size
    return self._env.physics.render(height, width, camera_id=self._camera_id)

  def close(self):
    # Free the rendering context here, on the thread that uses it: left to garbage collection it is
    # freed on whichever thread collects it, which dm_control refuses (an ignored error at exit).
    self._env.physics.free()


class DummyEnv(gymnasium.Env):
  """A fast env for tests that needs no MuJoCo: random uint8 64x64 images, a 1-dim action in [-1, 1],
  rewards uniform in [0, 1), 1000-step episodes (cut shorter by the action repeat and time limit).
  `reset(seed=s)` reseeds the images and rewards."""

  metadata = {'render_modes': ['rgb_array']}

  def __init__(self, seed=None):
    self._random = np.random.RandomState(seed)
    self.render_mode = 'rgb_array'
    self.observation_space = spaces.Dict({})
    self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    self._step = None

  def reset(self, *, seed=None, options=None):
    super().reset(seed=seed)
    if seed is not None:
      self._random = np.random.RandomState(seed)
    self._step = 0
    return {}, {}

  def step(self, action):
    self._step += 1
    return {}, float(self._random.uniform(0, 1)), False, self._step >= 1000, {}

  def render(self):
    return self._random.randint(0, 256, (64, 64, 3), dtype=np.uint8)


class ActionRepeat(gymnasium.Wrapper):
  """Repeats an action `amount` times, stopping early at the episode's end; sums the rewards.
  (gymnasium's RepeatAction-like wrappers are Atari-specific or keep only the last reward.)"""

  def __init__(self, env, amount):
    super().__init__(env)
    self._amount = amount

  def step(self, action):
    total = 0.0
    for _ in range(self._amount):
      obs, reward, terminated, truncated, info = self.env.step(action)
      total += reward
      if terminated or truncated:
        break
    return obs, total, terminated, truncated, info


def is_image(space):
  """An image observation: uint8 of shape (H, W, 3), (H, W, 1) or (H, W) (the last two grey)."""
  return (isinstance(space, spaces.Box) and space.dtype == np.uint8 and
          (len(space.shape) == 2 or (len(space.shape) == 3 and space.shape[-1] in (1, 3))))


def observation_parts(space):
  """Where an observation space holds its image and what is left as the state vector: (image, rest),
  the image None (no image), '' (the whole observation) or the key of the one image entry of a Dict;
  the rest None (nothing left) or the space that gymnasium's `spaces.flatten` turns into the vector
  (a Box, Discrete as one-hot, MultiDiscrete, MultiBinary, Tuple or Dict of those). Raises ValueError
  for anything else (Text, Graph, Sequence, OneOf, several images)."""
  if is_image(space):
    return '', None
  image = None
  if isinstance(space, spaces.Dict):
    images = [key for key, entry in space.spaces.items() if is_image(entry)]
    if len(images) > 1:
      raise ValueError(f'several image entries ({", ".join(images)})')
    image = images[0] if images else None
    space = spaces.Dict({k: v for k, v in space.spaces.items() if k != image})
    if not space.spaces:
      return image, None
  if not _is_vector(space):
    raise ValueError(f'{space} is neither an image (uint8, H x W x 3 or 1) nor a vector')
  return image, space


def _is_vector(space):
  """What gymnasium's `spaces.flatten` turns into a meaningful vector: numbers, one-hots, and Tuples
  and Dicts of those (not Text, Graph, Sequence or OneOf)."""
  if isinstance(space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
    return True
  if isinstance(space, (spaces.Tuple, spaces.Dict)):
    return all(_is_vector(entry) for entry in (
        space.spaces.values() if isinstance(space, spaces.Dict) else space.spaces))
  return False


def to_image(array, size=(64, 64)):
  """An image observation or render as uint8 [*size, 3]: grey repeated to RGB, resized bilinearly with
  antialiasing (skimage; a Gaussian of sigma (factor - 1) / 2 before downsampling), truncated to uint8.
  An image of the right size passes unchanged."""
  array = np.asarray(array)
  if array.ndim == 2:
    array = array[..., None]
  if array.shape[-1] == 1:
    array = np.repeat(array, 3, -1)
  if array.shape[:2] != tuple(size):
    from skimage.transform import resize
    array = resize(array, size, order=1, mode='edge', preserve_range=True, anti_aliasing=True)
  return array.astype(np.uint8)


class ImageAndState(gymnasium.ObservationWrapper):
  """Any gymnasium observation as the dict the model reads: the uint8 64x64x3 `image` from the env's
  image observation (`image='observation'`) or from its `render()` (`'render'`; None: no image), and
  the rest of the observation flattened by gymnasium to the float32 vector `state` (absent when nothing
  is left). gymnasium's AddRenderObservation renders at construction after an unseeded reset (a MuJoCo
  camera then follows where that reset left the body) and has no resizing."""

  def __init__(self, env, image='render', size=(64, 64)):
    super().__init__(env)
    self._image_key, self._rest = observation_parts(env.observation_space)
    if image == 'observation' and self._image_key is None:
      raise ValueError(f'no image in the observation space {env.observation_space}')
    self._source, self._size = image, tuple(size)
    entries = {}
    if image:
      entries['image'] = spaces.Box(0, 255, self._size + (3,), np.uint8)
    if self._rest is not None:
      entries['state'] = spaces.Box(-np.inf, np.inf, (spaces.flatdim(self._rest),), np.float32)
    self.observation_space = spaces.Dict(entries)

  def observation(self, observation):
    result = {}
    if self._source == 'observation':
      image = observation if self._image_key == '' else observation[self._image_key]
      result['image'] = to_image(image, self._size)
    elif self._source == 'render':
      result['image'] = to_image(self.env.render(), self._size)
    if self._rest is not None:
      if isinstance(self._rest, spaces.Dict) and isinstance(observation, dict):
        observation = {key: observation[key] for key in self._rest.spaces}
      result['state'] = spaces.flatten(self._rest, observation).astype(np.float32)
    return result


class OneHotActions(gymnasium.ActionWrapper):
  """A Discrete(n) action space as scores in [-1, 1]^n: the env executes the argmax (plus the space's
  start). `recorded_action` is what an episode records for a given action, the one-hot of the executed
  action, so the model is trained on one-hots whoever chose the scores (the planner, random seed
  episodes, exploration noise). gymnasium has no such wrapper."""

  def __init__(self, env):
    super().__init__(env)
    self._discrete = env.action_space
    self.action_space = spaces.Box(-1.0, 1.0, (int(env.action_space.n),), np.float32)

  def action(self, action):
    return self._discrete.start + int(np.argmax(action))

  def recorded_action(self, action):
    one_hot = np.zeros(self.action_space.shape, np.float32)
    one_hot[int(np.argmax(action))] = 1.0
    return one_hot


class ConvertTo32Bit(gymnasium.Wrapper):
  """float64 -> float32, int64 -> int32 for every entry of a dict observation, the reward as float32;
  a non-finite observation or reward is an error. (gymnasium's DtypeObservation converts a single Box
  to one dtype and checks nothing.)"""

  def reset(self, **kwargs):
    obs, info = self.env.reset(**kwargs)
    return self._convert(obs), info

  def step(self, action):
    obs, reward, terminated, truncated, info = self.env.step(action)
    if not np.isfinite(reward):
      raise ValueError(f'Infinite reward {reward} in {self.env}.')
    return self._convert(obs), np.float32(reward), terminated, truncated, info

  def _convert(self, obs):
    converted = {}
    for key, value in obs.items():
      value = np.asarray(value)
      if value.dtype == np.float64:
        value = value.astype(np.float32)
      elif value.dtype == np.int64:
        value = value.astype(np.int32)
      if value.dtype.kind == 'f' and not np.isfinite(value).all():
        raise ValueError(f'Infinite observation {key!r} in {self.env}.')
      converted[key] = value
    return converted


class PadActions(gymnasium.Wrapper):
  """Exposes the union of several Box action spaces: as long as the longest, each dimension's bounds
  the min of the lows and max of the highs of the spaces that have it. Steps the wrapped env with its
  own leading dimensions only. (Several tasks share one agent; gymnasium has nothing like it.)"""

  def __init__(self, env, action_spaces):
    super().__init__(env)
    size = max(space.shape[0] for space in action_spaces)
    low = np.full(size, np.inf, np.float32)
    high = np.full(size, -np.inf, np.float32)
    for space in action_spaces:
      n = space.shape[0]
      low[:n] = np.minimum(low[:n], space.low)
      high[:n] = np.maximum(high[:n], space.high)
    self.action_space = spaces.Box(low, high, dtype=np.float32)
    self._own = env.action_space.shape[0]

  def step(self, action):
    return self.env.step(np.asarray(action)[:self._own])


def recording_env(env_ctor):
  """`RecordEpisodes` around the env `env_ctor` makes: what an env worker builds. A process worker
  unpickles this function, so its module is imported there: this one imports no TensorFlow (a worker
  that did paid 3-5 s and hundreds of MB at every start, and printed TensorFlow's start messages)."""
  return RecordEpisodes(env_ctor())


class RecordEpisodes(gymnasium.Wrapper):
  """Records each episode; when it ends it is `last_episode` until the next one ends. Saving is the
  caller's business (simulate reads `last_episode`), so wrappers do not depend on the episode store.

  Alignment: index 0 holds the reset observation with a zero action and zero reward; index t holds the
  observation after action a_{t-1}, that same action and its reward. So an episode of N decisions has
  N + 1 frames, and `action[t]` is the action that led to observation t. `terminal[t]` is True when
  observation t ended the episode by termination (a task failure or success, not the time limit): only
  the last step can be terminal. The action recorded is the env's `recorded_action(action)` when a
  wrapper defines one (discrete actions: the one-hot of the executed action), else the action given.
  """

  def __init__(self, env):
    super().__init__(env)
    self._episode = None
    self.last_episode = None
    try:
      self._recorded = env.get_wrapper_attr('recorded_action')
    except AttributeError:
      self._recorded = lambda action: action

  def reset(self, **kwargs):
    obs, info = self.env.reset(**kwargs)
    zero = np.zeros(self.env.action_space.shape, np.float32)
    self._episode = [{**obs, 'action': zero, 'reward': np.float32(0.0), 'terminal': False}]
    return obs, info

  def step(self, action):
    obs, reward, terminated, truncated, info = self.env.step(action)
    action = np.asarray(self._recorded(action), np.float32)
    self._episode.append({**obs, 'action': action, 'reward': np.float32(reward),
                          'terminal': bool(terminated)})
    if terminated or truncated:
      episode = {k: np.stack([step[k] for step in self._episode]) for k in self._episode[0]}
      self.last_episode = episode
      self._episode = None
    return obs, reward, terminated, truncated, info
