"""Running episodes: random seed episodes (spec 6.4) and agent episodes (spec 6.3), recorded to disk by
the CollectEpisodes wrapper."""

import functools
import logging
import time

import numpy as np

from planet.control import async_env
from planet.control import in_graph as in_graph_lib
from planet.control import wrappers
from planet.tools import episodes

log = logging.getLogger('planet')


def random_episodes(task, outdir, amount, seed=None):
  """Collects `amount` episodes with uniformly random actions into `outdir`."""
  env = wrappers.CollectEpisodes(task.env_ctor(seed=seed), outdir)
  env.action_space.seed(seed)
  try:
    for _ in range(amount):
      env.reset()
      done = False
      while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
  finally:
    env.close()


def collect_initial_episodes(tasks, train_dir, test_dir, amount, seed):
  """Tops both directories up to `amount` random episodes per task (spec 6.4).

  The files already in a directory count towards the tasks in turn, so a resumed run collects none.
  """
  for offset, (name, directory) in enumerate([('test', test_dir), ('train', train_dir)]):
    existing = episodes.count(directory)
    for index, task in enumerate(tasks):
      missing = amount - min(existing, amount)
      existing -= amount - missing
      if missing > 0:
        log.info(f'Collecting {missing} initial episodes ({name}-{task.name}).')
        task_seed = None if seed is None else seed + 2 * index + offset
        random_episodes(task, directory, missing, task_seed)


def _recording_env(env_ctor, outdir, seed):
  """Module-level so that a process worker can unpickle it."""
  return wrappers.CollectEpisodes(env_ctor(seed=seed), outdir)


class Simulation:
  """`batch_size` envs (recording into `outdir`, isolated as `isolate`) and one batched agent.

  With `in_graph` the whole episode runs as one compiled loop (control/in_graph.py); otherwise a Python
  loop calls the agent's compiled policy each step. `run()` plays one episode in every env, all agents
  planned in one batched call per step, and returns the mean return, the return of each env, the
  episode length and the time it took.
  """

  def __init__(self, task, agent, outdir, seed=None, batch_size=1, isolate='none', in_graph=False):
    ctors = [functools.partial(_recording_env, task.env_ctor, outdir,
                               None if seed is None else seed + index)
             for index in range(batch_size)]
    if isolate == 'none':
      envs = [ctor() for ctor in ctors]
    else:
      envs = []
      try:
        for ctor in ctors:
          envs.append(async_env.AsyncEnv(ctor, isolate))
      except BaseException:
        for env in envs:
          env.close()
        raise
    self.env = async_env.BatchEnv(envs)
    self.agent = agent
    self._in_graph = in_graph_lib.InGraphEpisode(self.env, agent, task.max_length) if in_graph else None

  def run(self, noise_scale):
    start = time.time()
    if self._in_graph:
      return {**self._in_graph.run(noise_scale), 'seconds': time.time() - start}
    size = len(self.env)
    images = self.env.reset_images()
    self.agent.begin_episode()
    scores, lengths, done = np.zeros(size), np.zeros(size, int), np.zeros(size, bool)
    while not done.all():
      actions = self.agent.policy(images, np.float32(noise_scale)).numpy()
      lengths += ~done
      rewards, done = self.env.step_images(actions, done, images)
      scores += rewards
    return {'return': float(scores.mean()), 'returns': scores.tolist(),
            'length': int(lengths.max()), 'seconds': time.time() - start}

  def first_episode_images(self):
    """[T, 64, 64, 3] uint8 frames of the first env's last finished episode."""
    env = self.env.envs[0]
    episode = env.access('last_episode') if isinstance(env, async_env.AsyncEnv) else env.last_episode
    return episode['image']

  def close(self):
    if self._in_graph:
      self._in_graph.close()
    else:
      self.env.close()
