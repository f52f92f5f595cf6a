"""Files written atomically: a reader or a resumed run sees the old file or the new one, never half.

The content goes to a hidden temp file beside the target, `.<name>.<pid>-<thread>.tmp` (same directory,
so the rename stays on one file system; the process and thread keep concurrent writers apart), which
`os.replace` then renames over the target. A write that raises removes its temp file and leaves the old
file as it was; one killed outright leaves the temp file, which the episode folders clean on resume
(`remove_temporary`). No fsync, as none of the writes had one: the rename guards against a killed
process (the kernel keeps what it wrote), not against a machine that crashes before it writes back.
"""

import glob
import os
import threading

SUFFIX = '.tmp'


def temporary_path(path):
  folder, name = os.path.split(path)
  return os.path.join(folder, f'.{name}.{os.getpid()}-{threading.get_ident()}{SUFFIX}')


def write(path, content):
  """Writes `content` to `path` atomically: a str (UTF-8), bytes, or a function that writes into the
  open binary temp file (`lambda f: np.savez_compressed(f, **arrays)`). Returns `path`."""
  tmp = temporary_path(path)
  try:
    with open(tmp, 'wb') as f:
      if callable(content):
        content(f)
      else:
        f.write(content.encode() if isinstance(content, str) else content)
    os.replace(tmp, path)
  except BaseException:  # Also a KeyboardInterrupt in the middle: no temp file stays behind.
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return path


def remove_temporary(directory):
  """Removes the temp files that killed writes left in `directory`; returns how many. Only for a
  folder that nobody else writes into at the time (a run's episode folders when it starts)."""
  paths = glob.glob(os.path.join(glob.escape(directory), f'.*{SUFFIX}'))
  for path in paths:
    os.remove(path)
  return len(paths)
