"""Episodes on disk: atomic .npz files, reading with corrupt files moved aside, the loaders and chunking.

A collected episode is named `<YYYYmmddTHHMMSS>-<collection>-<ordinal>.npz`: the collection (for example
`train_main_cheetah_run`) and the episode's ordinal within it say which episode of the schedule it is,
so a resumed run can tell which of its episodes already exist (`Index`). Other `.npz` files (for example
`<timestamp>-<uuid>.npz`) are read as episodes too.
"""

import collections
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


def load(filename, keys=None):
  """Reads an episode, or only its `keys` (and `terminal`, where it has one: the chunks need it);
  float64 -> float32, int64 -> int32. The arrays of other keys are not decompressed (a model of state
  vectors does not read the images its episodes keep for the videos)."""
  try:
    with open(filename, 'rb') as f:
      data = np.load(f, allow_pickle=False)
      if 'reward' not in data.files:
        raise ValueError('it has no reward')
      episode = {k: data[k] for k in data.files if keys is None or k in keys or k == 'terminal'}
  except Exception as e:  # zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error, ...
    raise CorruptEpisode(f'cannot read episode {filename}: {type(e).__name__}: {e}') from None
  for key, value in episode.items():
    if value.dtype == np.float64:
      episode[key] = value.astype(np.float32)
    elif value.dtype == np.int64:
      episode[key] = value.astype(np.int32)
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


def load_or_none(filename, keys=None):
  """The episode (its `keys`: see `load`), or None after moving an unreadable file aside with a
  warning."""
  try:
    return load(filename, keys)
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
  possible one; `num_chunks` None means max(1, len // length - 1).

  An episode that ended by termination (`terminal` set at its last step, as control/wrappers.
  RecordEpisodes records it) continues in its absorbing state: `length - 1` more steps (more if the
  chunks need them) of its last frame with reward 0 and actions drawn from its own, so that a chunk can
  start at any recorded step and the model learns that termination ends the reward, whatever the
  actions. Episodes without a termination are cut exactly as without the flag, which chunks never hold.
  """
  episode = dict(episode)
  terminal = episode.pop('terminal', None)
  ends = terminal is not None and bool(terminal[-1])
  total = len(episode['action']) + (length - 1 if ends else 0)
  if num_chunks is None:
    num_chunks = max(1, total // length - 1)
  used = num_chunks * length
  if ends:
    episode = _absorbing(episode, max(total, used) - len(episode['action']), random)
    total = max(total, used)
  if total < used:
    raise ConfigError(
        f'an episode of {total} steps is shorter than {num_chunks} chunk(s) of {length} steps '
        '(batch_shape[1] x num_chunks); use shorter chunks or a smaller action_repeat.')
  offset = random.randint(0, total - used + 1)
  for index in range(num_chunks):
    start = offset + index * length
    yield {k: v[start: start + length] for k, v in episode.items()}


class Memory:
  """The episodes of a directory that a loader keeps in RAM: the newest ones, at most `size` steps
  (frames) in all, or every one when `size` is None.

  Episodes are kept in the order they were written (a refresh loads its new files in name order, and
  names start with the time); the oldest leave memory first. Their files stay on disk and are not read
  again, and neither are new files too old to fit (a resumed run reads only its newest episodes).
  """

  def __init__(self, directory, size=None, keys=None):
    self.directory = directory
    self.size = size
    self.keys = keys  # what is read of each episode (None: everything)
    self.episodes = collections.OrderedDict()  # name -> episode, oldest first
    self.steps = 0
    self._seen = set()

  def refresh(self):
    """Loads the files written since the last refresh, as many of the newest as fit, and makes room
    for them by evicting the oldest. Returns the names loaded, oldest first."""
    new = [name for name in filenames(self.directory) if name not in self._seen]
    self._seen.update(new)
    loaded, steps = [], 0
    for name in reversed(new):
      episode = load_or_none(name, self.keys)
      if episode is None:
        continue
      length = len(episode['reward'])
      if self.size is not None and steps + length > self.size:
        if not loaded:
          raise ConfigError(
              f'the episode {name} has {length} steps, more than the replay size of {self.size} steps; '
              'raise replay_size.')
        break
      loaded.append((name, episode))
      steps += length
    for name, episode in reversed(loaded):
      self.episodes[name] = episode
    self.steps += steps
    while self.size is not None and self.steps > self.size:
      _, episode = self.episodes.popitem(last=False)
      self.steps -= len(episode['reward'])
    return [name for name, _ in reversed(loaded)]


def _absorbing(episode, steps, random):
  """The episode followed by `steps` copies of its last step, with reward 0 and actions drawn
  uniformly from the episode's own (index 0, the reset's zero action, excluded)."""
  count = len(episode['action'])
  drawn = random.randint(1, count, steps) if count > 1 else np.zeros(steps, int)
  padded = {}
  for key, value in episode.items():
    if key == 'action':
      tail = value[drawn]
    elif key == 'reward':
      tail = np.zeros((steps,) + value.shape[1:], value.dtype)
    else:
      tail = np.repeat(value[-1:], steps, 0)
    padded[key] = np.concatenate([value, tail])
  return padded


def _cycle(episodes, amount, random):
  """Yields `amount` episodes by cycling fresh permutations of the list."""
  yielded = 0
  while episodes and yielded < amount:
    for index in random.permutation(len(episodes)):
      if yielded == amount:
        return
      yield episodes[index]
      yielded += 1


def _sample(memory, names, amount, random):
  """Up to `amount` of the episodes of `names`, drawn without replacement."""
  return [memory.episodes[names[i]]
          for i in random.choice(len(names), min(amount, len(names)), replace=False)]


def _require_episodes(memory):
  if not memory.episodes:
    raise ConfigError(f'no readable episodes left in {memory.directory}.')


def cache_loader(directory, every, random, size=None, keys=None):
  """Keeps the episodes in memory (the newest `size` steps of them); each round yields `every` of a
  random sample of what is kept, then loads new files."""
  memory = Memory(directory, size, keys)
  while True:
    memory.refresh()
    _require_episodes(memory)
    yield from _cycle(_sample(memory, list(memory.episodes), every, random), every, random)


def recent_loader(directory, every, random, size=None, keys=None):
  """Each round takes up to every/2 of the episodes found at the last refresh and up to every/2 older
  ones of those kept in memory (the newest `size` steps), and yields `every` by cycling that list
  (uniformly over it); then new files are loaded and become the recent ones."""
  memory = Memory(directory, size, keys)
  recent = []
  while True:
    names = list(memory.episodes)
    older = names[:len(names) - len(recent)]  # the recent ones are the last loaded
    episodes = _sample(memory, recent, every // 2, random) + _sample(memory, older, every // 2, random)
    yield from _cycle(episodes, every, random)
    recent = memory.refresh()
    _require_episodes(memory)


def reload_loader(directory, every, random, size=None, keys=None):
  """Rereads every file from disk each round, in random order (nothing is kept in memory)."""
  del every, size
  while True:
    names = filenames(directory)
    if not names:
      raise ConfigError(f'no readable episodes left in {directory}.')
    for index in random.permutation(len(names)):
      episode = load_or_none(names[index], keys)
      if episode is not None:
        yield episode


def dummy_loader(directory, every, random, size=None, keys=None):
  """Random data with the dtypes and length of one real episode (seed 0, as the original)."""
  del every, random, size
  template = first_readable(directory, keys)
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


def first_readable(directory, keys=None):
  """The first episode of `directory` that can be read (its `keys`: see `load`); unreadable ones are
  moved aside."""
  for name in filenames(directory):
    episode = load_or_none(name, keys)
    if episode is not None:
      return episode
  raise ConfigError(f'no readable episodes in {directory}; the seed episodes must be collected first.')


def chunks(directory, loader, every, length, num_chunks, seed=None, size=None, keys=None):
  """An endless generator of chunks of the `keys` (None: every one) of the episodes in `directory`;
  the loaders read only those keys, and those that keep episodes in memory keep the newest `size`
  steps of them (None: every one)."""
  random = np.random.RandomState(seed)
  if not filenames(directory):
    raise ConfigError(f'no episodes in {directory}; the seed episodes must be collected first.')
  for episode in LOADERS[loader](directory, every, random, size, keys):
    yield from chunk(episode, length, num_chunks, random)
