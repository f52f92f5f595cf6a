"""Episodes on disk: atomic .npz files, reading with corrupt files moved aside, the loaders and chunking.

A collected episode is named `<YYYYmmddTHHMMSS>-<collection>-<ordinal>.npz`: the collection (for example
`train_main_cheetah_run`) and the episode's ordinal within it say which episode of the schedule it is,
so a resumed run can tell which of its episodes already exist (`Index`). Other `.npz` files (for example
`<timestamp>-<uuid>.npz`) are read as episodes too.
"""

import datetime
import glob
import logging
import os
import re
import uuid

import numpy as np

from planet.errors import ConfigError
from planet.tools import atomic

log = logging.getLogger('planet')

CORRUPT = 'corrupt'
_NAME = re.compile(r'^\d{8}T\d{6}-(?P<collection>[A-Za-z0-9_]+)-(?P<ordinal>\d{6,})\.npz$')


class CorruptEpisode(ValueError):
  """An episode file that cannot be read."""


def save(directory, episode, name=None):
  """Writes an episode atomically (temp file + rename) as `<timestamp>-<name>.npz`, or with a random
  name. Returns the path."""
  os.makedirs(directory, exist_ok=True)
  timestamp = datetime.datetime.now().strftime('%Y%m%dT%H%M%S')
  filename = os.path.join(directory, f'{timestamp}-{name or uuid.uuid4().hex}.npz')
  return atomic.write(filename, lambda f: np.savez_compressed(f, **episode))


def episode_name(collection, ordinal):
  return f'{collection}-{ordinal:06d}'


def load(filename):
  """Reads an episode; float64 -> float32, int64 -> int32; adds `return` = cumsum(reward)."""
  try:
    with open(filename, 'rb') as f:
      data = np.load(f, allow_pickle=False)
      episode = {k: data[k] for k in data.files}
    if 'reward' not in episode:
      raise ValueError('it has no reward')
  except Exception as e:  # zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error, ...
    raise CorruptEpisode(f'cannot read episode {filename}: {type(e).__name__}: {e}') from None
  for key, value in episode.items():
    if value.dtype == np.float64:
      episode[key] = value.astype(np.float32)
    elif value.dtype == np.int64:
      episode[key] = value.astype(np.int32)
  episode['return'] = np.cumsum(episode['reward']).astype(np.float32)
  return episode


def quarantine(filename, reason):
  """Moves an unreadable episode into `corrupt/` beside it, so it is never read again, and warns."""
  folder = os.path.join(os.path.dirname(filename), CORRUPT)
  os.makedirs(folder, exist_ok=True)
  target = os.path.join(folder, os.path.basename(filename))
  try:
    os.replace(filename, target)
  except FileNotFoundError:  # Another reader moved it already.
    return
  log.warning(f'Warning: skipping unreadable episode {filename} ({reason}); moved it to {target}.')


def load_or_none(filename):
  """The episode, or None after moving an unreadable file aside with a warning."""
  try:
    return load(filename)
  except CorruptEpisode as e:
    quarantine(filename, str(e).split(': ', 1)[-1])
    return None


def filenames(directory):
  return sorted(glob.glob(os.path.join(directory, '*.npz')))


def count(directory):
  return len(filenames(directory))


class Index:
  """Which episodes of which collections a directory holds, read once and kept up to date in memory,
  so that nothing lists the directory on every training step."""

  def __init__(self, directory):
    self.directory = directory
    self._files = {}  # (collection, ordinal) -> path
    self.untagged = 0
    for path in filenames(directory):
      self.add(path)

  def __len__(self):
    return len(self._files) + self.untagged

  def get(self, collection, ordinal):
    """The path of that episode, or None."""
    return self._files.get((collection, ordinal))

  def count(self, collection):
    return sum(1 for name, _ in self._files if name == collection)

  def add(self, path):
    """Records a file written into the directory."""
    match = _NAME.match(os.path.basename(path))
    if match:
      self._files[(match['collection'], int(match['ordinal']))] = path
    else:
      self.untagged += 1

  def forget(self, path):
    self._files = {k: v for k, v in self._files.items() if v != path}


def chunk(episode, length, num_chunks=1, random=np.random):
  """Cuts `num_chunks` consecutive chunks of `length` steps from a random offset, inclusive of the last
  possible one; `num_chunks` None means max(1, len // length - 1)."""
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
  loaded = {}
  for name in filenames(directory):
    if name not in known:
      episode = load_or_none(name)
      if episode is not None:
        loaded[name] = episode
  return loaded


def cache_loader(directory, every, random):
  """Keeps every episode in memory; each round yields `every` of a random sample, then loads new files."""
  cache = {}
  while True:
    cache.update(_load_new(directory, cache))
    if not cache:
      raise ConfigError(f'no readable episodes left in {directory}.')
    names = list(cache)
    sample = [names[i] for i in random.choice(len(names), min(every, len(names)), replace=False)]
    yield from _cycle([cache[name] for name in sample], every, random)


def recent_loader(directory, every, random):
  """Each round takes up to every/2 of the episodes found at the last refresh and up to every/2 older
  ones, and yields `every` by cycling that list (uniformly over it); then the recent episodes join the
  old ones and new files are loaded."""
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
    if not cache and not recent:
      raise ConfigError(f'no readable episodes left in {directory}.')


def reload_loader(directory, every, random):
  """Rereads every file from disk each round, in random order."""
  del every
  while True:
    names = filenames(directory)
    if not names:
      raise ConfigError(f'no readable episodes left in {directory}.')
    for index in random.permutation(len(names)):
      episode = load_or_none(names[index])
      if episode is not None:
        yield episode


def dummy_loader(directory, every, random):
  """Random data with the dtypes and length of one real episode (seed 0, as the original)."""
  del every, random
  template = first_readable(directory)
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


def first_readable(directory):
  """The first episode of `directory` that can be read; unreadable ones are moved aside."""
  for name in filenames(directory):
    episode = load_or_none(name)
    if episode is not None:
      return episode
  raise ConfigError(f'no readable episodes in {directory}; the seed episodes must be collected first.')


def chunks(directory, loader, every, length, num_chunks, seed=None):
  """An endless generator of chunks of the episodes in `directory`."""
  random = np.random.RandomState(seed)
  if not filenames(directory):
    raise ConfigError(f'no episodes in {directory}; the seed episodes must be collected first.')
  for episode in LOADERS[loader](directory, every, random):
    yield from chunk(episode, length, num_chunks, random)
