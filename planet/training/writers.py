"""TensorBoard writers that a resumed run does not make write a step twice.

A run resumes from its last checkpoint and replays the steps after it; their summaries were written
before the kill (the trainer writes a step's summaries before the checkpoint that claims it). Each
writer reads the newest step already in its event files when it opens and skips writes at or before
it, so the events of a killed-and-resumed run hold every step once.
"""

import glob
import os

import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader


def scan(directory):
  """(largest step of a summary in the event files of `directory`, -1 when there is none; {tag: value}
  of the newest scalar of each tag)."""
  last, scalars = -1, {}
  for path in glob.glob(os.path.join(directory, 'events.out.tfevents.*')):
    try:
      for event in event_file_loader.EventFileLoader(path).Load():
        if not (event.HasField('summary') and event.summary.value):
          continue
        last = max(last, event.step)
        for value in event.summary.value:
          if value.HasField('tensor') and not value.tensor.tensor_shape.dim:
            if event.step >= scalars.get(value.tag, (-1, None))[0]:
              scalars[value.tag] = (event.step, float(tf.make_ndarray(value.tensor)))
    except Exception:  # A record cut off by a kill ends that file's readable part.
      continue
  return last, {tag: value for tag, (_, value) in scalars.items()}


class Writer:
  """One phase's summary writer; `write(step, fn)` runs `fn()` inside it unless `step` is already in
  the event files, then flushes."""

  def __init__(self, directory):
    self.directory = directory
    self.written, self.scalars = scan(directory)  # scalars: the newest value of each tag on disk
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
