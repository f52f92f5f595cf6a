"""Environment wrappers with gymnasium's API (reset -> (obs, info); step -> obs, reward, terminated,
truncated, info). Observations are dicts of float32 arrays plus the uint8 `image`.

Task stacks use gymnasium's own wrappers where they do the job (TimeLimit, OrderEnforcing,
AddRenderObservation, FilterObservation, RescaleAction, TransformObservation; see scripts/tasks.py).
The classes here are the ones gymnasium lacks or where the behaviour must differ, each saying why.
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


class MinimumDuration(gymnasium.Wrapper):
  """Hides the end of an episode until `duration` steps have passed (episodes at least one chunk
  long). gymnasium has no such wrapper."""

  def __init__(self, env, duration):
    super().__init__(env)
    self._duration = duration
    self._step = 0

  def reset(self, **kwargs):
    self._step = 0
    return self.env.reset(**kwargs)

  def step(self, action):
    obs, reward, terminated, truncated, info = self.env.step(action)
    self._step += 1
    if self._step < self._duration:
      terminated = truncated = False
    return obs, reward, terminated, truncated, info


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


class RecordEpisodes(gymnasium.Wrapper):
  """Records each episode; when it ends it is `last_episode` until the next one ends. Saving is the
  caller's business (simulate reads `last_episode`), so wrappers do not depend on the episode store.

  Alignment: index 0 holds the reset observation with a zero action and zero reward; index t holds the
  observation after action a_{t-1}, that same action and its reward. So an episode of N decisions has
  N + 1 frames, and `action[t]` is the action that led to observation t.
  """

  def __init__(self, env):
    super().__init__(env)
    self._episode = None
    self.last_episode = None

  def reset(self, **kwargs):
    obs, info = self.env.reset(**kwargs)
    zero = np.zeros(self.env.action_space.shape, np.float32)
    self._episode = [{**obs, 'action': zero, 'reward': np.float32(0.0)}]
    return obs, info

  def step(self, action):
    obs, reward, terminated, truncated, info = self.env.step(action)
    action = np.asarray(action, np.float32)
    self._episode.append({**obs, 'action': action, 'reward': np.float32(reward)})
    if terminated or truncated:
      episode = {k: np.stack([step[k] for step in self._episode]) for k in self._episode[0]}
      self.last_episode = episode
      self._episode = None
    return obs, reward, terminated, truncated, info
