"""Episode files, chunking offsets and the loaders."""

import itertools
import os

import numpy as np
import pytest

from planet.errors import ConfigError
from planet.scripts import build
from planet.scripts import configs
from planet.tools import dataset
from planet.tools import episodes


def make_episode(length, seed=0):
  rng = np.random.RandomState(seed)
  return {
      'image': rng.randint(0, 256, (length, 64, 64, 3)).astype(np.uint8),
      'action': rng.uniform(-1, 1, (length, 2)).astype(np.float32),
      'reward': np.arange(length, dtype=np.float32),
  }


def test_save_load_roundtrip_is_atomic(tmp_path):
  episode = make_episode(21)
  path = episodes.save(str(tmp_path), episode)
  assert os.listdir(tmp_path) == [os.path.basename(path)]  # no temporary file left behind
  name = os.path.basename(path)
  assert len(name) == len('20261125T010203-') + 32 + len('.npz')
  loaded = episodes.load(path)
  assert sorted(loaded) == ['action', 'image', 'reward']  # what was saved, nothing added
  np.testing.assert_array_equal(loaded['image'], episode['image'])
  assert loaded['image'].dtype == np.uint8


def test_float64_and_int64_are_narrowed(tmp_path):
  path = episodes.save(str(tmp_path), {'action': np.zeros((3, 1)), 'reward': np.zeros(3),
                                       'count': np.arange(3)})
  loaded = episodes.load(path)
  assert loaded['action'].dtype == np.float32 and loaded['count'].dtype == np.int32


def test_chunk_offsets_cover_the_inclusive_range():
  episode = {'action': np.arange(21)[:, None], 'reward': np.arange(21)}
  rng = np.random.RandomState(0)
  starts = {int(next(episodes.chunk(episode, 10, 1, rng))['action'][0, 0]) for _ in range(500)}
  assert starts == set(range(12))  # offset ~ UniformInt[0, 21 - 10], inclusive


def test_consecutive_chunks():
  episode = {'action': np.arange(50)[:, None], 'reward': np.arange(50)}
  chunks = list(episodes.chunk(episode, 10, 3, np.random.RandomState(1)))
  assert len(chunks) == 3
  first = chunks[0]['action'][0, 0]
  for index, chunk in enumerate(chunks):
    np.testing.assert_array_equal(chunk['reward'], np.arange(10) + first + 10 * index)
    assert sorted(chunk) == ['action', 'reward']
  assert 0 <= first <= 50 - 30
  # num_chunks None: max(1, len // T - 1) chunks.
  assert len(list(episodes.chunk(episode, 10, None, np.random.RandomState(1)))) == 4


def test_episode_shorter_than_chunk_is_a_clear_error():
  episode = {'action': np.zeros((21, 1)), 'reward': np.zeros(21)}
  with pytest.raises(ConfigError, match='episode of 21 steps is shorter than 1 chunk'):
    next(episodes.chunk(episode, 50, 1, np.random))


def write_episodes(directory, lengths):
  return [episodes.save(str(directory), make_episode(n, seed=i)) for i, n in enumerate(lengths)]


def test_cache_loader_yields_every_and_picks_up_new_files(tmp_path):
  write_episodes(tmp_path, [5, 6])
  loader = episodes.cache_loader(str(tmp_path), 4, np.random.RandomState(0))
  first = [len(e['action']) for e in itertools.islice(loader, 4)]
  assert sorted(first) == [5, 5, 6, 6]  # two episodes cycled to fill the round of 4
  write_episodes(tmp_path / '..' / tmp_path.name, [7])
  second = [len(e['action']) for e in itertools.islice(loader, 4)]
  assert 7 in second


def test_recent_loader_mixes_new_and_old(tmp_path):
  write_episodes(tmp_path, [5, 6])
  loader = episodes.recent_loader(str(tmp_path), 4, np.random.RandomState(0))
  first = sorted(len(e['action']) for e in itertools.islice(loader, 4))
  assert first == [5, 5, 6, 6]
  episodes.save(str(tmp_path), make_episode(9))
  lengths = [len(e['action']) for e in itertools.islice(loader, 8)]
  assert 9 in lengths  # the new episode enters at the next refresh


def test_reload_and_dummy_loaders(tmp_path):
  write_episodes(tmp_path, [5, 6, 7])
  reload = episodes.reload_loader(str(tmp_path), 0, np.random.RandomState(0))
  assert sorted(len(e['action']) for e in itertools.islice(reload, 3)) == [5, 6, 7]
  dummy = episodes.dummy_loader(str(tmp_path), 0, None)
  episode = next(dummy)
  assert episode['image'].dtype == np.uint8 and episode['image'].shape[1:] == (64, 64, 3)
  assert episode['action'].shape[1:] == (2,)


def test_dataset_batches_preprocessed_chunks(tmp_path):
  write_episodes(tmp_path, [21, 21])
  batch = next(iter(dataset.dataset(
      str(tmp_path), [3, 10], loader='recent', loader_every=5, num_chunks=1, image_bits=5, seed=0)))
  assert batch['image'].shape == (3, 10, 64, 64, 3)
  assert batch['action'].shape == (3, 10, 2)
  assert batch['reward'].shape == (3, 10)
  assert batch['image'].dtype.name == 'float32'
  assert sorted(batch) == ['action', 'image', 'reward']
  assert -0.5 <= float(batch['image'].numpy().min()) and float(batch['image'].numpy().max()) < 0.5
  # Rewards are arange(21), so each chunk is 10 consecutive integers.
  np.testing.assert_array_equal(np.diff(batch['reward'].numpy(), axis=1), np.ones((3, 9)))



def test_dataset_holds_only_the_keys_asked_for(tmp_path):
  """A model of state vectors is sent the keys it reads, not the images the episodes also store."""
  write_episodes(tmp_path, [21, 21])
  for index, name in enumerate(sorted(os.listdir(tmp_path))):  # A state component beside the image.
    episode = episodes.load(os.path.join(tmp_path, name))
    episode['position'] = np.arange(42, dtype=np.float32).reshape(21, 2) + 100 * index
    np.savez(os.path.join(tmp_path, name), **episode)
  keys = ('action', 'reward', 'position')
  batch = next(iter(dataset.dataset(str(tmp_path), [3, 10], seed=0, keys=keys)))
  assert sorted(batch) == sorted(keys) == sorted(dataset.batch_spec(str(tmp_path), [3, 10], keys))
  assert batch['position'].shape == (3, 10, 2)
  # The same chunks as the batch of every key: filtering does not change what is drawn.
  full = next(iter(dataset.dataset(str(tmp_path), [3, 10], seed=0)))
  assert 'image' in full
  np.testing.assert_array_equal(full['position'].numpy(), batch['position'].numpy())


@pytest.mark.parametrize('loader', ['recent', 'cache', 'reload', 'dummy'])
def test_loaders_read_and_keep_only_the_keys_asked_for(tmp_path, loader):
  """The images of a state model's episodes are neither decompressed nor kept in memory."""
  names = write_episodes(tmp_path, [5, 6])
  ended = dict(episodes.load(names[0]), terminal=np.arange(5) == 4)
  np.savez(names[0], **ended)
  stream = episodes.LOADERS[loader](
      str(tmp_path), 4, np.random.RandomState(0), None, ('action', 'reward'))
  yielded = list(itertools.islice(stream, 8))
  # The dummy loader repeats the shapes of the first file (names in one second sort at random).
  template = len(episodes.first_readable(str(tmp_path))['action'])
  assert {len(e['action']) for e in yielded} == ({template} if loader == 'dummy' else {5, 6})
  for episode in yielded:  # the terminal flag too, where the episode has one (chunks need it)
    assert sorted(episode) in (['action', 'reward'], ['action', 'reward', 'terminal'])
  memory = episodes.Memory(str(tmp_path), keys=('reward',))
  memory.refresh()
  kept = {len(e['reward']): sorted(e) for e in memory.episodes.values()}
  assert kept == {5: ['reward', 'terminal'], 6: ['reward']}
  np.savez(os.path.join(tmp_path, 'x.npz'), image=np.zeros((3, 64, 64, 3), np.uint8))
  with pytest.raises(episodes.CorruptEpisode, match='it has no reward'):
    episodes.load(os.path.join(tmp_path, 'x.npz'), keys=('image',))


# Replay memory: the loaders that keep episodes keep the newest `size` steps.

def write_ordered(directory, lengths, first=0):
  """Episodes written in order (names by ordinal) whose rewards hold their ordinal; returns names."""
  names = []
  for ordinal, length in enumerate(lengths, first):
    episode = {'action': np.zeros((length, 1), np.float32),
               'reward': np.full(length, ordinal, np.float32)}
    names.append(episodes.save(str(directory), episode, episodes.episode_name('train_main_x', ordinal)))
  return names


def ordinal(episode):
  return int(episode['reward'][0])


def test_memory_keeps_the_newest_episodes_and_the_oldest_leave_first(tmp_path, monkeypatch):
  names = write_ordered(tmp_path, [5, 6, 7, 8, 9])
  reads = []
  load = episodes.load_or_none
  monkeypatch.setattr(episodes, 'load_or_none',
                      lambda name, keys=None: reads.append(name) or load(name, keys))
  memory = episodes.Memory(str(tmp_path), size=20)
  assert memory.refresh() == names[3:]  # 9 + 8 = 17 steps fit, 7 more would not
  assert reads == names[:1:-1]  # newest first; the two too old to fit are never read
  assert list(memory.episodes) == names[3:] and memory.steps == 17
  new = write_ordered(tmp_path, [4, 3], first=5)
  assert memory.refresh() == new
  assert list(memory.episodes) == names[4:] + new and memory.steps == 16  # 8 left, 9 + 4 + 3 stay
  assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(n) for n in names + new)  # files stay
  assert memory.refresh() == [] and memory.steps == 16


def test_memory_bound_holds_with_episodes_of_different_lengths(tmp_path):
  lengths = np.random.RandomState(3).randint(1, 15, size=40).tolist()
  memory = episodes.Memory(str(tmp_path), size=40)
  written = []
  for start in range(0, 40, 3):
    written += write_ordered(tmp_path, lengths[start:start + 3], first=start)
    memory.refresh()
    kept, steps = [], 0  # the longest run of the newest episodes within 40 steps
    for name, length in zip(written[::-1], lengths[:len(written)][::-1]):
      if steps + length > 40:
        break
      kept.insert(0, name)
      steps += length
    assert list(memory.episodes) == kept and memory.steps == steps <= 40


def test_memory_refuses_an_episode_longer_than_its_size(tmp_path):
  write_ordered(tmp_path, [5, 30])
  with pytest.raises(ConfigError, match=r'has 30 steps, more than the replay size of 20 steps'):
    episodes.Memory(str(tmp_path), size=20).refresh()


@pytest.mark.parametrize('loader', ['recent', 'cache'])
def test_loaders_sample_exactly_the_kept_episodes(tmp_path, loader):
  write_ordered(tmp_path, [5] * 8)
  stream = episodes.LOADERS[loader](str(tmp_path), 4, np.random.RandomState(0), 20)
  assert {ordinal(e) for e in itertools.islice(stream, 200)} == {4, 5, 6, 7}  # the newest 20 steps
  write_ordered(tmp_path, [5, 5], first=8)
  seen = [ordinal(e) for e in itertools.islice(stream, 200)]
  assert set(seen[:4]) == set(seen) == {6, 7, 8, 9}  # from the next round on: 4 and 5 left memory


@pytest.mark.parametrize('loader', ['recent', 'cache'])
def test_a_size_that_holds_everything_changes_nothing(tmp_path, loader):
  write_ordered(tmp_path, [5, 6, 7])
  streams = [episodes.LOADERS[loader](str(tmp_path), 4, np.random.RandomState(0), size)
             for size in (None, 18)]
  assert [ordinal(e) for e in itertools.islice(streams[0], 40)] == [
      ordinal(e) for e in itertools.islice(streams[1], 40)]


def test_replay_size_param():
  assert configs.resolve({})['replay_size'] == 600000
  assert configs.resolve({'replay_size': None})['replay_size'] is None
  assert configs.resolve(configs.parse_params('{replay_size: 2e5}'))['replay_size'] == 200000
  params = configs.resolve({'replay_size': 210}, 'debug')  # ten 21-frame episodes
  assert (build.replay_size(params), build.replay_size(params, 'test')) == (210, 21)
  assert build.replay_size(configs.resolve({'replay_size': None}), 'test') is None
  with pytest.raises(ConfigError) as error:
    configs.resolve({'replay_size': 209}, 'debug')
  assert str(error.value) == (
      "params key 'replay_size': got 209; allowed: null or at least 210 steps (10 21-frame episodes "
      "of cheetah_run: the test episodes keep 1/10 of it).")
  with pytest.raises(ConfigError, match=r"'replay_size': got 0; allowed: an integer >= 1"):
    configs.resolve({'replay_size': 0})
