"""Seeds derived from the run's seed and a position, so that randomness continues after a resume.

A run re-seeds at every (re)start from its seed and the global step it starts at, and every episode's
environment from the seed, the episode's collection and its ordinal. A run killed and resumed therefore
draws fresh episodes and batches (not a replay of its beginning), and the same seed with the same kill
points gives the same run.
"""

import zlib

import numpy as np


def derive(seed, *position):
  """A seed in [0, 2**31) from the run's `seed` and a position of ints and strings; None stays None."""
  if seed is None:
    return None
  words = [int(seed) % 2 ** 64]
  for part in position:
    if isinstance(part, str):
      part = zlib.crc32(part.encode())
    words.append(int(part) % 2 ** 64)
  words = [w for word in words for w in (word & 0xffffffff, word >> 32)]
  return int(np.random.SeedSequence(words).generate_state(1)[0] >> 1)
