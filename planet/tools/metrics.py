"""`metrics.jsonl`: every scalar of a run as JSON lines, so that scores are read without event files.

One file per run directory, one line per phase and log step (DreamerV3's convention), for example
  {"step": 15, "phase": "test", "time": 1767225600.1, "trainer/test/score": 812.3, "loss": 41.2, ...}
`step` is the summary step (the step axis of the run's `train/` and `test/` event files), `phase` is
`train` or `test` (both phases have tags of the same name, such as `loss`), `time` is the wall time in
seconds; every other key is a scalar summary of that step. A summary whose tag is one of these three
fields (the trainer's `step`, the phase step) is stored as `scalar/<tag>`. Values are floats, `NaN` for
a score without test episodes (as Python's json writes it).

The file is only ever appended to, a whole line per `os.write` on an `O_APPEND` descriptor, so a kill
leaves at most a last line without its newline: readers ignore it and the next writer cuts it off. A
writer knows the last step of each phase already in the file and skips steps at or before it, as the
event writers do, so a resumed run writes each step once.

`scalars(run, phase, tags)` reads a run's values from here, or from its event files when the run has no
metrics.jsonl (runs of earlier versions); the trainer writes such a run's earlier values into the file
when it resumes it.
"""

import collections
import json
import logging
import math
import os
import re
import time

from planet.tools import atomic
from planet.tools import events

log = logging.getLogger('planet')

FILENAME = 'metrics.jsonl'
FIELDS = ('step', 'phase', 'time')
_ESCAPE = 'scalar/'


def _key(tag):
  return _ESCAPE + tag if tag in FIELDS else tag


def _tag(key):
  return key[len(_ESCAPE):] if key.startswith(_ESCAPE) and key[len(_ESCAPE):] in FIELDS else key


def _complete(path):
  """(bytes of the complete lines, size of the file); both 0 without a file."""
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except FileNotFoundError:
    return b'', 0
  return data[:data.rfind(b'\n') + 1], len(data)


def _lines_of(data, phase):
  """The lines of `data` (bytes) whose "phase" field is `phase`, found by a search for the field."""
  last = -1
  for match in re.finditer(rb'"phase":\s*"%s"' % re.escape(phase.encode()), data):
    start = data.rfind(b'\n', 0, match.start()) + 1
    if start != last:  # a line once, whatever else in it looks like the field
      last = start
      yield data[start:data.find(b'\n', match.end())]


def lines(path, phase=None):
  """The complete lines of a metrics file as dicts, in file order ([] without the file); with `phase`,
  only that phase's, found by their "phase" field before any line is decoded (a reader of the test
  scores skips the ten times as many train lines). A line that is not a JSON object with a step and a
  phase is skipped, with one warning naming the file."""
  data, _ = _complete(path)
  texts = data.splitlines() if phase is None else _lines_of(data, phase)
  result, bad = [], 0
  for text in texts:
    try:
      line = json.loads(text)
      if not (isinstance(line, dict) and isinstance(line.get('step'), int) and 'phase' in line):
        raise ValueError(text)
    except ValueError:
      bad += 1
      continue
    if phase is None or line['phase'] == phase:
      result.append(line)
  if bad:
    log.warning(f'Warning: skipped {bad} unreadable lines of {path}.')
  return result


def read(path, tags='*', phase=None):
  """{phase: {tag: [(wall_time, step, value)]}} of the scalars matching `tags` (an fnmatch glob or a
  collection of tag names) in a metrics file (of one `phase`, or of all), sorted by step; a step
  written twice counts once, with its later line."""
  wanted, keys = events.matcher(tags), None  # keys: {key: tag} of the tags named
  if not isinstance(tags, str):
    keys = {_key(tag): tag for tag in tags}
  result = {}
  for line in lines(path, phase):
    found = result.setdefault(line['phase'], {})
    named = keys or {key: _tag(key) for key in line if key not in FIELDS and wanted(_tag(key))}
    for key, tag in named.items():
      value = line.get(key)
      if isinstance(value, (int, float)):
        found.setdefault(tag, {})[line['step']] = (line.get('time', math.nan), float(value))
  return {phase: {tag: [(t, step, v) for step, (t, v) in sorted(values.items())]
                  for tag, values in found.items()} for phase, found in result.items()}


def scalars(run, phase, tags='*'):
  """{tag: [(wall_time, step, value)]} of the scalars of `phase` matching `tags`, sorted by step: from
  `run`/metrics.jsonl, or from the event files in `run`/`phase` for a run without it."""
  path = os.path.join(run, FILENAME)
  if os.path.exists(path):
    return read(path, tags, phase).get(phase, {})
  return events.read(os.path.join(run, phase), tags).scalars


def _format(phase, step, values, wall_time):
  line = {'step': int(step), 'phase': phase, 'time': wall_time}
  line.update({_key(tag): float(value) for tag, value in values.items()})
  return json.dumps(line) + '\n'


def _from_history(history):
  """The text of the lines of {phase: {tag: [(wall_time, step, value)]}}, oldest first."""
  values, times = collections.defaultdict(dict), {}  # by (phase, step)
  for phase, tags in history.items():
    for tag, rows in tags.items():
      for wall_time, step, value in rows:
        values[(phase, step)][tag] = value
        times[(phase, step)] = min(wall_time, times.get((phase, step), wall_time))
  order = sorted(values, key=lambda key: (times[key], key))
  return ''.join(_format(phase, step, values[(phase, step)], times[(phase, step)])
                 for phase, step in order)


class Writer:
  """Appends the lines of one run's metrics file. `last[phase]` is the newest step of a phase in the
  file (-1 without any) and `newest[phase]` the values of its newest line, known from the file when it
  opens. For a file that does not exist yet, `history()` gives the scalars of a run begun by a version
  without metrics.jsonl, {phase: {tag: [(wall_time, step, value)]}} read from its event files: they
  become the file's first lines, so that the file holds the whole run."""

  def __init__(self, path, history=None):
    self.path = path
    complete, size = _complete(path)
    if len(complete) < size:  # A line cut short by a kill: the step is written again on resume.
      os.truncate(path, len(complete))
    elif not os.path.exists(path) and history:
      atomic.write(path, _from_history(history()))
    self.last, self.newest = {}, {}
    for line in lines(path):
      if line['step'] >= self.last.get(line['phase'], -1):
        self.last[line['phase']] = line['step']
        self.newest[line['phase']] = {_tag(k): v for k, v in line.items() if k not in FIELDS}
    self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

  def due(self, phase, step):
    return step > self.last.get(phase, -1)

  def write(self, phase, step, values, wall_time=None):
    """Appends the line of `phase` at `step` unless that step is already in the file; returns whether
    it wrote."""
    if not self.due(phase, step):
      return False
    data = _format(phase, step, values, time.time() if wall_time is None else wall_time).encode()
    written = os.write(self._fd, data)
    while written < len(data):  # Only on a full disk or a signal mid-write; the line stays whole.
      written += os.write(self._fd, data[written:])
    self.last[phase] = int(step)
    self.newest[phase] = dict(values)
    return True

  def close(self):
    if self._fd is not None:
      os.close(self._fd)
      self._fd = None
