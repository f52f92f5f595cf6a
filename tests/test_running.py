"""Experiments with many runs and workers, with the original's running tests."""

import pytest
import glob
import json
import os
import pickle
import random
import threading
import time

from planet.tools import atomic
from planet.training import running


def _start_fn(logdir):
  assert not os.path.exists(os.path.join(logdir, 'DONE'))
  assert not os.path.exists(os.path.join(logdir, 'started'))
  assert not os.path.exists(os.path.join(logdir, 'resumed'))
  open(os.path.join(logdir, 'started'), 'w').close()
  with open(os.path.join(logdir, 'numbers'), 'wb') as f:
    pickle.dump([], f)
  return []


def _resume_fn(logdir):
  assert not os.path.exists(os.path.join(logdir, 'DONE'))
  assert os.path.exists(os.path.join(logdir, 'started'))
  open(os.path.join(logdir, 'resumed'), 'w').close()
  with open(os.path.join(logdir, 'numbers'), 'rb') as f:
    numbers = pickle.load(f)
  if len(numbers) != 5:
    raise Exception(f'Expected to be resumed in the middle for this test, got {len(numbers)}.')
  return numbers


def _process_fn(logdir, numbers):
  while len(numbers) < 10:
    number = random.uniform(0, 0.1)
    time.sleep(number)  # Work of random length: the 20 workers' claims interleave differently each time.
    numbers.append(number)
    with open(os.path.join(logdir, 'numbers'), 'wb') as f:
      pickle.dump(numbers, f)
    yield numbers


def _worker(basedir, name, die_after=None):
  experiment = running.Experiment(
      basedir, _process_fn, _start_fn, _resume_fn, num_runs=100, worker_name=name,
      ping_every=1.0)
  count = 0
  for run in experiment:
    for _ in run:
      count += 1
      if die_after and count >= die_after:
        return  # Abandon the run's generator mid-way, as a dying worker would.


def _run_threads(basedir, die_after=None):
  threads = [threading.Thread(target=_worker, args=(basedir, str(i), die_after)) for i in range(20)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()


def _count(basedir, name):
  return len(glob.glob(os.path.join(basedir, '*', name)))


def _lengths(basedir):
  lengths = []
  for path in glob.glob(os.path.join(basedir, '*', 'numbers')):
    with open(path, 'rb') as f:
      lengths.append(len(pickle.load(f)))
  return lengths


@pytest.mark.slow
def test_no_kills(tmp_path):
  basedir = str(tmp_path)
  _run_threads(basedir)
  assert _count(basedir, 'DONE') == 100
  assert _count(basedir, 'PING') == 100
  assert _count(basedir, 'started') == 100
  assert _count(basedir, 'resumed') == 0
  assert _count(basedir, 'failed') == 0
  assert _lengths(basedir) == [10] * 100


@pytest.mark.slow
def test_dying_workers(tmp_path):
  basedir = str(tmp_path)
  _run_threads(basedir, die_after=15)
  # Each dying worker finished one run and left a second one with 5 numbers, PING but no DONE.
  assert _count(basedir, 'DONE') == 20
  assert sorted(_lengths(basedir)) == [5] * 20 + [10] * 20
  _run_threads(basedir)
  assert _count(basedir, 'DONE') == 100
  assert _count(basedir, 'PING') == 100
  assert _count(basedir, 'FAIL') == 0
  assert _count(basedir, 'started') == 100
  assert _count(basedir, 'resumed') == 20
  assert _lengths(basedir) == [10] * 100


def test_heartbeat_detects_a_takeover(tmp_path):
  logdir = str(tmp_path / '00001')

  def work(logdir):
    for index in range(40):
      if index == 11:  # After the takeover: until this worker's heartbeat has seen it (10 s at most).
        run._taken_over.wait(10)
      yield index

  run = running.Run(logdir, work, None, None, 'me', ping_every=0.2)
  values = []
  for value in run:
    values.append(value)
    if value == 10:  # Another worker claims the run while this one works on it.
      atomic.write(os.path.join(logdir, 'PING'), '{"worker": "other", "time": 0}')
  assert values == list(range(11))  # stopped at the first value after the takeover, not at the end
  assert not os.path.exists(os.path.join(logdir, 'DONE'))
  assert not os.path.exists(os.path.join(logdir, 'FAIL'))


def test_failing_run_writes_fail_and_is_never_done(tmp_path):
  def failing(logdir):
    yield 1
    raise ValueError('boom')

  experiment = running.Experiment(str(tmp_path), failing, num_runs=1)
  run = next(iter(experiment))
  try:
    list(run)
  except ValueError:
    pass
  assert not os.path.exists(tmp_path / '00001' / 'DONE')
  assert 'ValueError: boom' in (tmp_path / '00001' / 'FAIL').read_text()
  assert running.failure(str(tmp_path / '00001')) == 'ValueError: boom'
  # Another worker leaves it alone and reports it as failed, not as completed.
  again = running.Experiment(str(tmp_path), failing, num_runs=1)
  assert list(again) == []
  assert again.failed == {str(tmp_path / '00001'): 'ValueError: boom'}


def test_retry_failed_resumes_the_run(tmp_path):
  calls = []

  def start(logdir):
    calls.append('start')

  def resume(logdir):
    calls.append('resume')

  def process(logdir, *args):
    yield 1

  (tmp_path / '00001').mkdir()
  (tmp_path / '00001' / 'PING').write_text('{}')
  (tmp_path / '00001' / 'FAIL').write_text('Traceback:\n  File "x"\nValueError: boom\n')
  experiment = running.Experiment(str(tmp_path), process, start, resume, retry_failed=True)
  for run in experiment:
    assert list(run) == [1]
  assert calls == ['resume'] and experiment.failed == {}
  assert (tmp_path / '00001' / 'DONE').exists() and not (tmp_path / '00001' / 'FAIL').exists()


def test_resume_runs_false_skips_started_runs(tmp_path):
  def quick(logdir):
    yield 1

  first = running.Experiment(str(tmp_path), quick, num_runs=3, worker_name='a')
  run = next(iter(first))
  # Abandon it: PING without DONE.
  next(iter(run))
  started = os.listdir(tmp_path)
  again = running.Experiment(str(tmp_path), quick, num_runs=3, worker_name='b', resume_runs=False)
  logdirs = [os.path.basename(r.logdir) for r in again]
  assert started[0] not in logdirs and len(logdirs) == 2


def test_a_claim_that_never_began_is_started_not_resumed(tmp_path):
  logdir = str(tmp_path / '00001')
  os.makedirs(logdir)
  # A worker claimed the run (wrote PING) and stalled or lost the race before beginning it.
  atomic.write(os.path.join(logdir, 'PING'), '{"worker": "other", "time": 0, "begun": false}')
  calls = []
  run = running.Run(logdir, lambda logdir, how: iter([how]), lambda logdir: calls.append('start') or 'start',
                    lambda logdir: calls.append('resume') or 'resume', 'me', ping_every=0.05)
  assert not run.resumed
  assert list(run) == ['start'] and calls == ['start']
  # Once begun, the PING says so, and a stale PING of a begun run is resumed.
  with open(os.path.join(logdir, 'PING')) as f:
    assert json.load(f)['begun'] is True
  os.remove(os.path.join(logdir, 'DONE'))
  atomic.write(os.path.join(logdir, 'PING'), '{"worker": "other", "time": 0, "begun": true}')
  assert running.Run(logdir, None, None, None, 'me', ping_every=0.05).resumed
  # A PING of an older version (no field) is resumed, the safe side.
  atomic.write(os.path.join(logdir, 'PING'), '{"worker": "other", "time": 0}')
  assert running.Run(logdir, None, None, None, 'me', ping_every=0.05).resumed


def test_a_ping_that_appears_while_a_worker_looks_does_not_make_a_resume(tmp_path, monkeypatch):
  logdir = str(tmp_path / '00001')
  os.makedirs(logdir)
  ping_path = os.path.join(logdir, 'PING')
  real_exists = os.path.exists

  def exists(path):  # Another worker claims the run right after this worker looked for its PING.
    found = real_exists(path)
    if path == ping_path and not found:
      atomic.write(ping_path, json.dumps({'worker': 'other', 'time': time.time(), 'begun': False}))
    return found

  monkeypatch.setattr(os.path, 'exists', exists)
  run = running.Run(logdir, None, None, None, 'me')
  assert run.resumed is False  # CI saw resume_fn called on such a run, which had never started


def test_an_unreadable_ping_is_fresh_by_its_file_time(tmp_path):
  logdir = str(tmp_path / '00001')
  os.makedirs(logdir)
  with open(os.path.join(logdir, 'PING'), 'w') as f:
    f.write('{"worker": "oth')  # garbage: not JSON
  with pytest.raises(running.SkipRun):  # written just now: its worker may be alive
    running.Run(logdir, None, None, None, 'me', ping_every=1.0)
  os.utime(os.path.join(logdir, 'PING'), (time.time() - 10, time.time() - 10))
  assert running.Run(logdir, None, None, None, 'me', ping_every=0.05).resumed  # stale: resumed


def test_run_states(tmp_path):
  # FAIL wins over DONE, DONE over PING; params.yaml alone is a started run.
  for name, files, state in (('a', (), 'new'), ('b', ('PING',), 'started'),
                             ('c', ('params.yaml',), 'started'), ('d', ('PING', 'DONE'), 'done'),
                             ('e', ('DONE', 'FAIL'), 'failed'), ('f', ('FAIL',), 'failed'),
                             ('g', ('PING', 'DONE', 'FAIL'), 'failed')):
    os.makedirs(tmp_path / name)
    for file in files:
      (tmp_path / name / file).write_text('\n')
    assert running.state(str(tmp_path / name)) == state
  # A worker follows the same rule: it skips a failed run as failed and a done one as done.
  for name, reason in (('d', 'done'), ('e', 'failed'), ('g', 'failed')):
    with pytest.raises(running.SkipRun) as skip:
      running.Run(str(tmp_path / name), lambda logdir: iter(()), None, None, 'me')
    assert skip.value.reason == reason
