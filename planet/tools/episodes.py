"""Episodes on disk: atomic .npz writing, reading, the loaders and chunking (spec 3.5, 7.3)."""

import datetime
import glob
import os
import uuid

import numpy as np

from planet.errors import ConfigError


def save(directory, episode):
  """Writes an episode as `<timestamp>-<uuid>.npz`, atomically (temp file + rename). Returns the path."""
  os.makedirs(directory, exist_ok=True)
  timestamp = datetime.datetime.now().strftime('%Y%m%dT%H%M%S')
  filename = os.path.join(directory, f'{timestamp}-{uuid.uuid4().hex}.npz')
  tmp = os.path.join(directory, f'.{os.path.basename(filename)}.tmp')
  with open(tmp, 'wb') as f:
    np.savez_compressed(f, **episode)
  os.replace(tmp, filename)
  return filename


def load(filename):
  """Reads an episode; float64 -> float32, int64 -> int32; adds `return` = cumsum(reward)."""
  try:
    with open(filename, 'rb') as f:
      data = np.load(f, allow_pickle=False)
      episode = {k: data[k] for k in data.files}
  except (OSError, ValueError, EOFError) as e:
    raise ValueError(f'cannot read episode {filename}: {e}') from None
  for key, value in episode.items():
    if value.dtype == np.float64:
      episode[key] = value.astype(np.float32)
    elif value.dtype == np.int64:
      episode[key] = value.astype(np.int32)
  episode['return'] = np.cumsum(episode['reward']).astype(np.float32)
  return episode


def filenames(directory):
  return sorted(glob.glob(os.path.join(directory, '*.npz')))


def count(directory):
  return len(filenames(directory))


def chunk(episode, length, num_chunks=1, random=np.random):
  """Cuts `num_chunks` consecutive chunks of `length` steps from a random offset (spec 7.3)."""
  total = len(episode['action'])
  if num_chunks is None:
    num_chunks = max(1, total // length - 1)
  used = num_chunks * length
  if total < used:
    raise ConfigError(
        f'an episode of {total} steps is shorter than {num_chunks} chunk(s) of {length} steps '
        '(batch_shape[1] x num_chunks); use shorter chunks or a smaller action_repeat.')
  offset = random.randint(0, total - used + 1)
  for index in range(num_chunks):
    start = offset + index * length
    chunk = {k: v[start: start + length] for k, v in episode.items()}
    chunk['length'] = np.int32(length)
    yield chunk


def _cycle(episodes, amount, random):
  """Yields `amount` episodes by cycling fresh permutations of the list."""
  yielded = 0
  while episodes and yielded < amount:
    for index in random.permutation(len(episodes)):
      if yielded == amount:
        return
      yield episodes[index]
      yielded += 1


def _load_new(directory, known):
  return {name: load(name) for name in filenames(directory) if name not in known}


def cache_loader(directory, every, random):
  """Keeps every episode in memory; each round yields `every` of a random sample, then loads new files."""
  cache = {}
  while True:
    cache.update(_load_new(directory, cache))
    names = list(cache)
    sample = [names[i] for i in random.choice(len(names), min(every, len(names)), replace=False)]
    yield from _cycle([cache[name] for name in sample], every, random)


def recent_loader(directory, every, random):
  """Each round mixes up to every/2 episodes found at the last refresh with up to every/2 older ones,
  yields `every` by cycling the combined list, then moves recent into the cache and loads new files."""
  cache, recent = {}, {}
  while True:
    names = list(recent)
    episodes = [recent[names[i]]
                for i in random.choice(len(names), min(every // 2, len(names)), replace=False)]
    names = list(cache)
    episodes += [cache[names[i]]
                 for i in random.choice(len(names), min(every // 2, len(names)), replace=False)]
    yield from _cycle(episodes, every, random)
    cache.update(recent)
    recent = _load_new(directory, cache)


def reload_loader(directory, every, random):
  """Rereads every file from disk each round, in random order."""
  del every
  while True:
    names = filenames(directory)
    for index in random.permutation(len(names)):
      yield load(names[index])


def dummy_loader(directory, every, random):
  """Random data with the dtypes and length of one real episode (seed 0, as the original)."""
  del every, random
  template = load(filenames(directory)[0])
  generator = np.random.RandomState(0)
  while True:
    episode = {}
    for key, value in template.items():
      if value.dtype == np.uint8:
        episode[key] = generator.randint(0, 256, value.shape).astype(np.uint8)
      else:
        episode[key] = generator.uniform(-1, 1, value.shape).astype(value.dtype)
    yield episode


LOADERS = {
    'cache': cache_loader, 'recent': recent_loader, 'reload': reload_loader, 'dummy': dummy_loader}


def chunks(directory, loader, every, length, num_chunks, seed=None):
  """An endless generator of chunks of the episodes in `directory`."""
  random = np.random.RandomState(seed)
  if not filenames(directory):
    raise ConfigError(f'no episodes in {directory}; the seed episodes must be collected first.')
  for episode in LOADERS[loader](directory, every, random):
    yield from chunk(episode, length, num_chunks, random)
