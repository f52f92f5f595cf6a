"""The one atomic file write: the old file or the new one, never half of one, and no temp file left."""

import os

import numpy as np
import pytest

from planet.tools import atomic


def test_writes_text_bytes_and_a_writer_function(tmp_path):
  assert atomic.write(str(tmp_path / 'a.txt'), 'grüße\n') == str(tmp_path / 'a.txt')
  assert (tmp_path / 'a.txt').read_bytes() == 'grüße\n'.encode()
  atomic.write(str(tmp_path / 'b.bin'), b'\x00\x01')
  assert (tmp_path / 'b.bin').read_bytes() == b'\x00\x01'
  atomic.write(str(tmp_path / 'c.npz'), lambda f: np.savez_compressed(f, x=np.arange(3)))
  assert np.load(tmp_path / 'c.npz')['x'].tolist() == [0, 1, 2]
  assert sorted(os.listdir(tmp_path)) == ['a.txt', 'b.bin', 'c.npz']


@pytest.mark.parametrize('error', [RuntimeError, KeyboardInterrupt])
def test_a_failure_mid_write_leaves_the_old_file_and_no_temp_file(tmp_path, error):
  path = str(tmp_path / 'params.yaml')
  atomic.write(path, 'old\n')

  def half(f):
    f.write(b'new, half of it')
    f.flush()
    assert os.path.getsize(atomic.temporary_path(path)) == 15  # the temp file beside it has it
    raise error('disk full')

  with pytest.raises(error):
    atomic.write(path, half)
  assert (tmp_path / 'params.yaml').read_text() == 'old\n'
  assert os.listdir(tmp_path) == ['params.yaml']


def test_temp_files_of_killed_writes_are_removed(tmp_path):
  (tmp_path / 'episode.npz').write_bytes(b'kept')
  killed = atomic.temporary_path(str(tmp_path / 'other.npz'))
  assert os.path.basename(killed).startswith('.other.npz.') and killed.endswith('.tmp')
  open(killed, 'wb').close()
  (tmp_path / '.episode.npz.tmp').write_bytes(b'an earlier version\'s temp name')
  assert atomic.remove_temporary(str(tmp_path)) == 2
  assert os.listdir(tmp_path) == ['episode.npz']
