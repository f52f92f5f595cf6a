"""Checkpoints of a run that survive kills and bad files.

On start, the temp files of killed saves are removed, the checkpoints are found from their files (not
from the `checkpoint` state file, which may be garbage), and the newest one that restores is restored;
a newest one that does not (truncated, garbage) is moved into `corrupt/` with a warning naming it, and
the next older one is tried. The state file is then rewritten from what is there, so TensorFlow's own
tools (tf.train.latest_checkpoint) and the CheckpointManager's bookkeeping agree with the files.
"""

import glob
import logging
import os
import re
import shutil

import tensorflow as tf

log = logging.getLogger('planet')


class Checkpoints:

  def __init__(self, checkpoint, directory, name='model.ckpt', keep=5, keep_every_hours=2.0):
    self.checkpoint = checkpoint
    self.directory = directory
    self.name = name
    self.keep = keep
    self.keep_every_hours = keep_every_hours
    self.restored = None
    self.manager = None

  def _path(self, step):
    return os.path.join(self.directory, f'{self.name}-{step}')

  def steps(self):
    """The steps of the checkpoints on disk (those with an index file), oldest first."""
    pattern = re.compile(re.escape(self.name) + r'-(\d+)\.index$')
    steps = []
    for path in glob.glob(os.path.join(self.directory, f'{self.name}-*.index')):
      match = pattern.search(os.path.basename(path))
      if match:
        steps.append(int(match.group(1)))
    return sorted(steps)

  def clean_temporary(self):
    """Removes what killed saves left behind: `model.ckpt-N_temp*` and temp state files."""
    removed = []
    for path in glob.glob(os.path.join(self.directory, f'{self.name}-*_temp*')) + glob.glob(
        os.path.join(self.directory, 'checkpoint.tmp*')):
      if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
      else:
        os.remove(path)
      removed.append(path)
    return removed

  def _move_aside(self, step):
    folder = os.path.join(self.directory, 'corrupt')
    os.makedirs(folder, exist_ok=True)
    for path in glob.glob(glob.escape(self._path(step)) + '.*'):
      os.replace(path, os.path.join(folder, os.path.basename(path)))

  def _write_state(self, steps):
    """The `checkpoint` state file listing `steps`, newest last, written atomically."""
    lines = []
    if steps:
      lines.append(f'model_checkpoint_path: "{self.name}-{steps[-1]}"')
      lines += [f'all_model_checkpoint_paths: "{self.name}-{step}"' for step in steps]
    path = os.path.join(self.directory, 'checkpoint')
    tmp = f'{path}.tmp-planet'
    with open(tmp, 'w') as f:
      f.write('\n'.join(lines) + '\n')
    os.replace(tmp, path)

  def restore(self):
    """Restores the newest checkpoint that restores; returns its step, or None for a fresh start."""
    os.makedirs(self.directory, exist_ok=True)
    self.clean_temporary()
    steps = self.steps()
    while steps:
      step = steps[-1]
      try:
        self.checkpoint.restore(self._path(step)).assert_existing_objects_matched()
        self.restored = self._path(step)
        break
      except Exception as e:  # IndexError (truncated), DataLossError/OpError (garbage), ...
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        log.warning(f'Warning: checkpoint {self._path(step)} does not restore ({type(e).__name__}: '
                    f'{reason[:200]}); moved it to corrupt/ and trying the one before.')
        self._move_aside(step)
        steps.pop()
    if steps or os.path.exists(os.path.join(self.directory, 'checkpoint')):
      self._write_state(steps)
    self._open()
    return steps[-1] if steps else None

  def _open(self):
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self.directory, max_to_keep=self.keep, checkpoint_name=self.name,
        keep_checkpoint_every_n_hours=self.keep_every_hours)

  def save(self, step):
    """Saves at `step` (the manager writes to a temp folder and renames: atomic)."""
    if self.manager is None:
      os.makedirs(self.directory, exist_ok=True)
      self._open()
    return self.manager.save(checkpoint_number=step)
