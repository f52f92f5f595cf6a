"""TensorBoard writers that a resumed run does not make write a step twice.

A run resumes from its last checkpoint and replays the steps after it; their summaries were written
before the kill (the trainer writes a step's summaries before the checkpoint that claims it). Each
writer reads the newest step already in its event files when it opens (from the last record of each
file: it writes its steps in increasing order) and skips writes at or before it, so the events of a
killed-and-resumed run hold every step once.
"""

import tensorflow as tf

from planet.tools import events


class Writer:
  """One phase's summary writer; `write(step, fn)` runs `fn()` inside it unless `step` is already in
  the event files, then flushes."""

  def __init__(self, directory):
    self.directory = directory
    self.written = events.last_step(directory)
    self._writer = tf.summary.create_file_writer(directory)

  def due(self, step):
    return step > self.written

  def write(self, step, fn):
    if not self.due(step):
      return False
    with self._writer.as_default():
      fn()
    self._writer.flush()
    self.written = step
    return True

  def close(self):
    self._writer.flush()
    self._writer.close()
