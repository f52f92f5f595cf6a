"""Checkpoints of a run that survive kills and bad files, and are deleted as in an uninterrupted run.

On start, the temp files of killed saves are removed, the checkpoints are found from their files (not
from the `checkpoint` state file, which may be garbage), and the newest one that restores is restored;
a newest one that does not (truncated, garbage) is moved into `corrupt/` with a warning naming it, and
the next older one is tried.

Which checkpoints are kept is TensorFlow's CheckpointManager rule (max_to_keep, and
keep_checkpoint_every_n_hours): after each save the oldest of the tracked checkpoints leave, oldest
first, until `keep` remain; one that leaves is kept for good if it was saved at least `keep_every_hours`
after the last one kept that way (or after the run started), and deleted otherwise. The rule's state
(the tracked checkpoints with their save times, and the time of the last one kept for good) lives in the
`checkpoint` state file, in TensorFlow's format, and is carried across restarts, so a resumed run deletes
what it would have deleted had it never stopped. A state file without save times (written by an older
version of this project, which leaked every checkpoint on disk at a resume) or a garbage one is rebuilt
from the files, with their modification times as save times. The rule is applied here, not by
tf.train.CheckpointManager, so that it takes an injected clock and sees the same times after a restart.
"""

import glob
import json
import logging
import os
import re
import shutil
import time

import tensorflow as tf

from planet.tools import atomic

log = logging.getLogger('planet')


class Checkpoints:

  def __init__(self, checkpoint, directory, name='model.ckpt', keep=5, keep_every_hours=2.0,
               clock=time.time):
    """`keep` is max_to_keep; `keep_every_hours` (None or 0: never) the keep_checkpoint_every_n_hours of
    TensorFlow's CheckpointManager; `clock()` gives the save times in seconds."""
    self.checkpoint = checkpoint
    self.directory = directory
    self.name = name
    self.keep = keep
    self.keep_every_hours = keep_every_hours
    self.clock = clock
    self.restored = None
    self.tracked = {}  # step -> save time: the checkpoints the rule may still delete
    self.preserved = clock() - 1.0  # save time of the last checkpoint kept for good (or the start)

  def _path(self, step):
    return os.path.join(self.directory, f'{self.name}-{step}')

  def _step(self, path):
    match = re.fullmatch(re.escape(self.name) + r'-(\d+)', os.path.basename(path))
    return int(match.group(1)) if match else None

  def steps(self):
    """The steps of the checkpoints on disk (those with an index file), oldest first."""
    steps = [self._step(path[:-len('.index')])
             for path in glob.glob(os.path.join(self.directory, f'{self.name}-*.index'))]
    return sorted(step for step in steps if step is not None)

  def clean_temporary(self):
    """Removes what killed saves left behind: `model.ckpt-N_temp*` and temp state files (also those of
    older versions, `checkpoint.tmp*`)."""
    removed = []
    patterns = [f'{self.name}-*_temp*', f'.checkpoint.*{atomic.SUFFIX}', 'checkpoint.tmp*']
    for path in sum((glob.glob(os.path.join(self.directory, p)) for p in patterns), []):
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

  def _delete(self, step):
    """Data files first: a kill in between leaves the index, so the checkpoint is still seen (and
    deleted at the next save) instead of leaving data no index names."""
    paths = glob.glob(glob.escape(self._path(step)) + '.*')
    for path in sorted(paths, key=lambda path: path.endswith('.index')):
      os.remove(path)

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
    self._recover(steps)
    self._sweep()
    self._write_state()
    return steps[-1] if steps else None

  def _read_state(self):
    """(save times of the listed steps, last preserved time) from the state file; ({}, None) when it is
    missing, garbage (with a warning naming it) or lacks either: an older version of this project wrote
    neither, and TensorFlow leaves out a last preserved time of 0, which it has after reading such a
    file. In both cases the checkpoints not listed may be leaked ones."""
    path = os.path.join(self.directory, 'checkpoint')
    if not os.path.exists(path):
      return {}, None
    fields = {'all_model_checkpoint_paths': [], 'all_model_checkpoint_timestamps': [],
              'last_preserved_timestamp': []}
    try:
      with open(path) as f:
        for line in filter(str.strip, f.read().splitlines()):
          key, value = (part.strip() for part in line.split(':', 1))
          if key in fields:
            fields[key].append(value if key.endswith('paths') else float(value))
      steps = [self._step(json.loads(value)) for value in fields['all_model_checkpoint_paths']]
    except (ValueError, UnicodeDecodeError) as e:
      log.warning(f'Warning: checkpoint state file {path} is unreadable ({type(e).__name__}); '
                  f'rebuilt it from the checkpoint files.')
      return {}, None
    times, preserved = fields['all_model_checkpoint_timestamps'], fields['last_preserved_timestamp']
    if not steps or None in steps or len(times) != len(steps) or not preserved:
      return {}, None
    return dict(zip(steps, times)), preserved[0]

  def _recover(self, steps):
    """The rule's state for the checkpoints on disk (`steps`). With a state file that has it, the
    unlisted checkpoints older than the listed ones are the preserved ones, and a newer unlisted one
    was saved by a run killed before it wrote the state. Without, every checkpoint is tracked and the
    run is taken to have started just before the oldest one. Times are capped at now, as TensorFlow
    does (a clock that went back must not date a checkpoint in the future)."""
    listed, preserved = self._read_state()
    now = self.clock()
    times = {step: min(listed[step] if step in listed else self._mtime(step), now) for step in steps}
    if preserved is not None:
      self.tracked = {step: times[step] for step in steps if step >= min(listed)}
      self.preserved = min(preserved, now)
    else:
      self.tracked = times
      self.preserved = min(times.values()) - 1.0 if times else now - 1.0

  def _mtime(self, step):
    return os.path.getmtime(self._path(step) + '.index')

  def _sweep(self):
    """Deletes or preserves the oldest tracked checkpoints until `keep` remain (TensorFlow's rule)."""
    interval = (self.keep_every_hours or 0) * 3600.0
    while len(self.tracked) > self.keep:
      step = min(self.tracked)
      saved = self.tracked.pop(step)
      if interval and saved - interval >= self.preserved:
        self.preserved = saved
      else:
        self._delete(step)

  def _write_state(self):
    """The `checkpoint` state file in TensorFlow's format (tf.train.latest_checkpoint and a
    CheckpointManager read it), written atomically; removed when no checkpoint is left."""
    path = os.path.join(self.directory, 'checkpoint')
    steps = self.steps()
    if not steps:
      if os.path.exists(path):
        os.remove(path)
      return
    tracked = sorted(self.tracked)
    lines = [f'model_checkpoint_path: "{self.name}-{steps[-1]}"']
    lines += [f'all_model_checkpoint_paths: "{self.name}-{step}"' for step in tracked]
    lines += [f'all_model_checkpoint_timestamps: {self.tracked[step]!r}' for step in tracked]
    lines.append(f'last_preserved_timestamp: {self.preserved!r}')
    atomic.write(path, '\n'.join(lines) + '\n')

  def save(self, step):
    """Saves at `step` (TensorFlow writes a temp folder and renames it: atomic), lists it in the state
    file, then deletes what the rule says and writes the state file again. Returns the path."""
    os.makedirs(self.directory, exist_ok=True)
    self.checkpoint.save_counter.assign_add(1)  # as CheckpointManager.save: old checkpoints have it
    path = self.checkpoint.write(self._path(step))
    self.tracked.pop(step, None)
    self.tracked[step] = self.clock()
    self._write_state()  # a kill while deleting finds the new checkpoint listed
    self._sweep()
    self._write_state()
    return path
