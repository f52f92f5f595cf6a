"""Running episodes: random seed episodes (spec 6.4) and agent episodes (spec 6.3), recorded to disk by
the CollectEpisodes wrapper."""

import logging
import time

import numpy as np

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


class Simulation:
  """One env (recording into `outdir`) and one agent; `run()` plays one episode and returns its stats."""

  def __init__(self, task, agent, outdir, seed=None):
    self.env = wrappers.CollectEpisodes(task.env_ctor(seed=seed), outdir)
    self.agent = agent

  def run(self, noise_scale):
    start = time.time()
    obs, _ = self.env.reset()
    self.agent.begin_episode()
    score, length, done = 0.0, 0, False
    while not done:
      action = self.agent.policy(obs['image'][None], np.float32(noise_scale)).numpy()[0]
      obs, reward, terminated, truncated, _ = self.env.step(action)
      score += float(reward)
      length += 1
      done = terminated or truncated
    return {'return': score, 'length': length, 'seconds': time.time() - start}

  def close(self):
    self.env.close()
