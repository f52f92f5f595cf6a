"""Experiments of several runs in `<logdir>/00001`, ... with PING, DONE and FAIL files.

A run is started when its directory has neither PING nor DONE, resumed when it has a PING but no DONE
and the PING is this worker's or stale (older than 2 * ping_every; any PING when ping_every is 0), and
skipped otherwise. A PING left by a worker that claimed the run but never began it (it lost the claim
race or stalled) does not make a resume: such a run is started. An unreadable PING counts as begun, its
age from its file time. A run that ends normally gets DONE. One that raises gets FAIL (its traceback) and no
DONE: it is not resumed by other workers (they would fail the same way) and never counts as completed;
`retry_failed` removes the FAIL and resumes it from its checkpoint. A run abandoned by its consumer or
killed gets neither, so it can be resumed.
"""

import datetime
import json
import logging
import os
import random
import threading
import time
import traceback
import uuid

from planet.errors import ConfigError
from planet.tools import atomic

log = logging.getLogger('planet')


class SkipRun(Exception):
  """This worker leaves the run alone; `reason` is 'done', 'failed' or 'busy'."""

  def __init__(self, reason='busy'):
    super().__init__(reason)
    self.reason = reason


def failure(logdir):
  """The first line of the error in a run's FAIL file (`Type: message`), or None without FAIL."""
  try:
    with open(os.path.join(logdir, 'FAIL')) as f:
      lines = f.read().splitlines()
  except OSError:
    return None
  frames = [i for i, line in enumerate(lines) if line.startswith('  File ')]
  start = frames[-1] + 1 if frames else 0
  for line in lines[start:]:
    if line.strip() and not line.startswith(' '):
      return line.strip()[:300]
  return 'unknown error'


def clear_failure(logdir):
  """Lets a failed run be resumed: its FAIL is kept as FAIL.<n>; a DONE that earlier versions wrote
  beside it is removed."""
  number = 1
  while os.path.exists(os.path.join(logdir, f'FAIL.{number}')):
    number += 1
  os.replace(os.path.join(logdir, 'FAIL'), os.path.join(logdir, f'FAIL.{number}'))
  if os.path.exists(os.path.join(logdir, 'DONE')):
    os.remove(os.path.join(logdir, 'DONE'))


def state(logdir):
  """What a run directory says of its run: 'failed' (FAIL, whatever else is there), 'done' (DONE),
  'started' (PING or params.yaml) or 'new'."""
  if os.path.exists(os.path.join(logdir, 'FAIL')):
    return 'failed'
  if os.path.exists(os.path.join(logdir, 'DONE')):
    return 'done'
  if any(os.path.exists(os.path.join(logdir, name)) for name in ('PING', 'params.yaml')):
    return 'started'
  return 'new'


class Experiment:
  """Iterates the runs this worker should do; each is a `Run` that yields its scores."""

  def __init__(self, basedir, process_fn, start_fn=None, resume_fn=None, num_runs=1,
               worker_name=None, ping_every=0, resume_runs=True, retry_failed=False):
    """`start_fn(logdir)` or `resume_fn(logdir)` runs first; its return value, made a tuple, is passed
    on as `process_fn(logdir, *args)`, a generator of scores. After iterating, `failed` lists the
    (logdir, error line) of every visited run that failed, and `done` the runs skipped as done."""
    self.basedir = os.path.expanduser(basedir)
    self.process_fn = process_fn
    self.start_fn = start_fn
    self.resume_fn = resume_fn
    self.num_runs = num_runs
    self.worker_name = worker_name or uuid.uuid4().hex
    self.ping_every = ping_every
    self.ping_stale = 2 * ping_every
    self.resume_runs = resume_runs
    self.retry_failed = retry_failed
    self.failed = {}
    self.done = []

  def __iter__(self):
    for number in self._numbers():
      logdir = os.path.join(self.basedir, f'{number:05d}')
      try:
        run = Run(logdir, self.process_fn, self.start_fn, self.resume_fn, self.worker_name,
                  self.ping_every, self.resume_runs, self.retry_failed)
      except SkipRun as skip:
        if skip.reason == 'failed':
          self.failed[logdir] = failure(logdir)
        elif skip.reason == 'done' and logdir not in self.done:
          self.done.append(logdir)
        continue
      self.failed.pop(logdir, None)
      try:
        yield run
      finally:
        if failure(logdir):
          self.failed[logdir] = failure(logdir)
    if not self.failed:
      log.info('All runs completed.')

  def _numbers(self):
    if self.num_runs:
      numbers = list(range(1, self.num_runs + 1))
      random.shuffle(numbers)
      yield from numbers
      if self.ping_stale:
        time.sleep(self.ping_stale)
        yield from numbers
    else:
      time.sleep(self.ping_stale)
      number = 1
      while True:
        yield number
        number += 1


class Run:

  def __init__(self, logdir, process_fn, start_fn, resume_fn, worker_name, ping_every=0,
               resume_runs=True, retry_failed=False):
    self.logdir = logdir
    self.process_fn = process_fn
    self.worker_name = worker_name
    self.ping_every = ping_every
    self._begun = False
    self.resumed = self._decide(resume_runs, retry_failed)
    self._init_fn = resume_fn if self.resumed else start_fn
    self._claim()
    self._taken_over = threading.Event()

  def _path(self, name):
    return os.path.join(self.logdir, name)

  def _read_ping(self):
    try:
      with open(self._path('PING')) as f:
        return json.load(f)
    except (OSError, ValueError):
      return None

  def _look_at_ping(self):
    """The run's PING as one observation: None when there is none (never claimed); {'time': its
    modification time} when it cannot be read (counted as begun, the safe side). Checking whether it
    exists and reading it separately let a PING written in between look unreadable, and the run was
    resumed by a second worker while its first one started it."""
    try:
      with open(self._path('PING')) as f:
        text = f.read()
      mtime = os.path.getmtime(self._path('PING'))
    except FileNotFoundError:
      return None
    try:
      ping = json.loads(text)
    except ValueError:
      ping = None
    return ping if isinstance(ping, dict) else {'time': mtime}

  def _decide(self, resume_runs, retry_failed):
    if state(self.logdir) == 'failed':
      if not retry_failed:
        raise SkipRun('failed')
      log.info(f'Retrying failed run {self.logdir}: {failure(self.logdir)}')
      clear_failure(self.logdir)
    if state(self.logdir) == 'done':
      raise SkipRun('done')
    ping = self._look_at_ping()
    if ping is None:
      return False
    if not resume_runs:
      raise SkipRun('busy')
    if ping.get('worker') != self.worker_name and self.ping_every:
      age = time.time() - ping.get('time', 0)
      if age < 2 * self.ping_every:
        raise SkipRun()
    # PINGs without the field (older versions) count as begun: resuming is the safe side.
    return bool(ping.get('begun', True))

  def _write_ping(self):
    os.makedirs(self.logdir, exist_ok=True)
    atomic.write(self._path('PING'), json.dumps({
        'worker': self.worker_name, 'time': time.time(), 'begun': self._begun,
        'utc': datetime.datetime.now(datetime.timezone.utc).isoformat()}))

  def _claim(self):
    self._write_ping()
    if self.ping_every:
      time.sleep(self.ping_every)
      ping = self._read_ping()
      if not ping or ping.get('worker') != self.worker_name:
        raise SkipRun()
      self._write_ping()

  def _heartbeat(self, stop):
    while not stop.wait(self.ping_every):
      ping = self._read_ping()
      if ping and ping.get('worker') != self.worker_name:
        log.warning(f'Another worker ({ping.get("worker")}) took over {self.logdir}; stopping.')
        self._taken_over.set()
        return
      self._write_ping()

  def __iter__(self):
    self._begun = True
    self._write_ping()  # Marks the run as begun before its init_fn touches anything.
    stop = threading.Event()
    thread = None
    if self.ping_every:
      thread = threading.Thread(target=self._heartbeat, args=(stop,), daemon=True)
      thread.start()
    try:
      log.info(f'{"Resume" if self.resumed else "Start"} run {self.logdir}.')
      args = self._init_fn(self.logdir) if self._init_fn else ()
      args = args if isinstance(args, tuple) else (args,)
      for value in self.process_fn(self.logdir, *args):
        if self._taken_over.is_set():  # Leave the run to the other worker: no DONE, no FAIL.
          return
        yield value
      log.info('Done.')
      atomic.write(self._path('DONE'), '\n')
    except ConfigError:
      raise  # Bad input (for example a corrupt params.yaml) is the user's to fix, not a failed run.
    except Exception:
      text = traceback.format_exc()
      log.error(text)
      atomic.write(self._path('FAIL'), text)
      raise
    finally:
      stop.set()
      if thread:
        thread.join()
