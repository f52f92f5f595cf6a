"""Playing episodes: `Simulation` runs one episode in each of its `batch_size` envs with one batched
agent, either as a Python loop over the agent's compiled policy or as one compiled loop
(control/in_graph.py); `collect_initial_episodes` tops episode folders up with random-action episodes.

Each episode's environments are seeded from the run's seed, the collection's name and the episode's
ordinal in it, so a resumed run draws new episodes and an episode is redone identically after a
crash of its env worker. A dead env worker (`isolate_envs: process`) is restarted and the episode
redone, a bounded number of times.
"""

import concurrent.futures
import functools
import logging
import time

import numpy as np
import tensorflow as tf

from planet.control import async_env
from planet.control import in_graph as in_graph_lib
from planet.control import wrappers
from planet.tools import episodes
from planet.tools import seeding

log = logging.getLogger('planet')

WORKER_RETRIES = 3


def result(scores, lengths, seconds):
  """The one result of both episode loops: the mean return, each env's return, the episode length and
  the time it took."""
  scores, lengths = np.asarray(scores, np.float64), np.asarray(lengths)
  return {'return': float(scores.mean()), 'returns': scores.tolist(),
          'length': int(lengths.max()), 'seconds': seconds}


class Simulation:
  """`batch_size` envs of `task` (isolated as `isolate`) played by one batched `agent`.

  `run(noise_scale, ordinal)` plays one episode in every env (the agents planned in one batched call
  per step) and returns `result()` plus the recorded `episodes` and, when `outdir` is given, the
  `paths` they were written to: `<timestamp>-<name>-<ordinal * batch_size + env>.npz`.
  """

  def __init__(self, task, agent, outdir=None, seed=None, batch_size=1, isolate='none',
               in_graph=False, name=None):
    self.name = name or task.name
    self.agent = agent
    self.outdir = outdir
    self.seed = seed
    self.batch_size = batch_size
    self.max_length = task.max_length
    self._count = 0
    self._died = None
    # tf.numpy_function runs on whichever TF thread is free, but a rendering context (EGL) belongs to
    # the thread that made it current: with the in-graph loop, the envs are built and called on this
    # one thread.
    self._thread = concurrent.futures.ThreadPoolExecutor(1, 'env') if in_graph else None
    ctor = functools.partial(wrappers.recording_env, task.env_ctor)
    self.env = self.call(self._build, ctor, batch_size, isolate)
    self._loop = in_graph_lib.InGraphEpisode(self, agent, task.max_length) if in_graph else None

  @staticmethod
  def _build(ctor, batch_size, isolate):
    envs = []
    try:
      for _ in range(batch_size):
        envs.append(async_env.AsyncEnv(ctor, isolate))
    except BaseException:
      for env in envs:
        env.close()
      raise
    return async_env.BatchEnv(envs)

  def call(self, fn, *args):
    """Runs `fn(*args)` on the thread that owns the envs; remembers a worker's death (inside the
    in-graph loop it reaches the caller only as a TensorFlow error)."""
    try:
      if self._thread is None:
        return fn(*args)
      return self._thread.submit(fn, *args).result()
    except async_env.WorkerDied as e:
      self._died = e
      raise

  def seeds(self, ordinal):
    """The env seeds of episode `ordinal` (None without a run seed)."""
    if self.seed is None:
      return None
    return [seeding.derive(self.seed, self.name, ordinal, index) for index in range(self.batch_size)]

  def run(self, noise_scale, ordinal=None, seeds=None):
    """Plays episode `ordinal` (default: the next) in every env, seeded from its position or with
    the given env `seeds`."""
    ordinal = self._count if ordinal is None else ordinal
    seeds = self.seeds(ordinal) if seeds is None else seeds
    start = time.time()
    for attempt in range(WORKER_RETRIES + 1):
      self._died = None
      try:
        scores, lengths = self._play(noise_scale, seeds)
        break
      except (async_env.WorkerDied, tf.errors.OpError) as e:
        if isinstance(e, tf.errors.OpError) and 'KeyboardInterrupt' in str(e):
          # Ctrl-C or SIGTERM while the in-graph loop ran Python: TensorFlow reports it as an op error.
          raise KeyboardInterrupt(f'interrupted during an episode of {self.name}') from None
        if not self._died or not self.call(self.env.dead):
          raise
        how = str(self._died)
        if attempt == WORKER_RETRIES:
          raise RuntimeError(
              f'the environment worker of {self.name} died {attempt + 1} times in episode {ordinal} '
              f'({how}); giving up.') from e
        log.warning(f'Warning: the environment worker of {self.name} died in episode {ordinal} '
                    f'({how}); restarting it and redoing the episode ({attempt + 1} of '
                    f'{WORKER_RETRIES}).')
        self.call(self.env.restart_dead)
    outcome = result(scores, lengths, time.time() - start)
    outcome['episodes'] = self.call(self._episodes)
    if self.outdir:
      outcome['paths'] = [
          episodes.save(self.outdir, episode, episodes.episode_name(
              self.name, ordinal * self.batch_size + index))
          for index, episode in enumerate(outcome['episodes'])]
    self._count = ordinal + 1
    return outcome

  def _episodes(self):
    return [env.access('last_episode') for env in self.env.envs]

  def _play(self, noise_scale, seeds):
    if self._loop:
      return self._loop.run(noise_scale, seeds)
    keys = tuple(self.agent.observation_spec)
    observations, done = self.call(self.env.reset_observations, keys, seeds)
    self.agent.begin_episode()
    scores = np.zeros(len(self.env), np.float32)
    lengths = np.zeros(len(self.env), np.int32)
    step = 0
    while in_graph_lib.running(step, done, self.max_length):
      actions = self.agent.policy(observations, np.float32(noise_scale))
      actions = actions.numpy() if hasattr(actions, 'numpy') else np.asarray(actions)
      lengths += ~done
      observations, rewards, done = self.call(
          self.env.step_observations, keys, actions, done, observations)
      scores += rewards
      step += 1
    return scores, lengths

  def close(self):
    self.call(self.env.close)
    if self._thread:
      self._thread.shutdown()


class RandomAgent:
  """Uniformly random actions in a Box, from a generator that `reseed` sets for each episode."""

  observation_spec = {}  # It observes nothing.

  def __init__(self, action_space, batch_size=1):
    self._low, self._high = action_space.low, action_space.high
    self._shape = (batch_size,) + action_space.shape
    self._random = np.random.RandomState()

  def reseed(self, seed):
    self._random = np.random.RandomState(seed)

  def begin_episode(self):
    pass

  def policy(self, observation, noise_scale):
    del observation, noise_scale
    return self._random.uniform(self._low, self._high, self._shape).astype(np.float32)


def random_episodes(task, outdir, amount, seed=None, isolate='none', name=None, ordinals=None):
  """Collects `amount` episodes of uniformly random actions into `outdir`; episode k of collection
  `name` (default `seed_<task>`) uses seeds derived from the run's seed, `name` and k."""
  name = name or f'seed_{task.name}'
  ordinals = list(range(amount)) if ordinals is None else ordinals
  agent = RandomAgent(task.action_space)
  simulation = Simulation(task, agent, outdir, seed, 1, isolate, name=name)
  try:
    for ordinal in ordinals[:amount]:
      agent.reseed(seeding.derive(seed, name, 'actions', ordinal))
      simulation.run(0.0, ordinal)
  finally:
    simulation.close()


def collect_initial_episodes(tasks, train_dir, test_dir, amount, seed, isolate='none'):
  """Tops both folders up to `amount` random episodes per task, test first (as the original).

  The seed episodes already in a folder count (they are named `seed_<phase>_<task>-<ordinal>`), so a
  resumed run collects only what is missing, each missing episode with its own seeds.
  """
  for phase, directory in (('test', test_dir), ('train', train_dir)):
    index = episodes.Index(directory)
    for task in tasks:
      name = f'seed_{phase}_{task.name}'
      missing = amount - min(amount, index.count(name))
      if missing > 0:
        log.info(f'Collecting {missing} initial episodes ({phase}-{task.name}).')
        free = [k for k in range(2 * amount) if index.get(name, k) is None]
        random_episodes(task, directory, missing, seed, isolate, name, free)
