"""Environments in the caller's thread or isolated in a worker thread or process, behind one class.

`AsyncEnv(constructor, strategy)` with strategy `none` builds the env in the caller's thread; with
`thread` or `process` it builds it inside a worker and talks to it over a pipe. The API is the same:
`step` and `reset` can be non-blocking (`blocking=False` returns a promise, a callable that waits for
the result), worker exceptions are re-raised in the caller as WorkerError with the worker's traceback, a
worker that dies is reported as WorkerDied (with its exit code or signal) and can be `restart()`ed, and
`close` ends the worker. Process workers are started with the `spawn` method (never `fork` after
TensorFlow has started threads), are daemons, and are closed at exit, so no child outlives the parent.
"""

import atexit
import multiprocessing
import multiprocessing.dummy
import signal
import threading
import traceback
import weakref

import numpy as np

_ACCESS, _CALL, _RESULT, _EXCEPTION, _CLOSE = range(5)
_OPEN = weakref.WeakSet()
STRATEGIES = ('none', 'thread', 'process')


class WorkerError(RuntimeError):
  """An exception inside an environment worker; its message holds the worker's traceback."""


class WorkerDied(WorkerError):
  """The worker process ended without being asked to (killed, crashed in C code, out of memory)."""


def _worker(constructor, conn):
  try:  # A worker process leaves Ctrl-C to its parent, which closes it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
  except ValueError:  # A worker thread: signals are the main thread's.
    pass
  try:
    env = constructor()
  except Exception:  # Report construction errors like any other worker error.
    conn.send((_EXCEPTION, traceback.format_exc()))
    conn.close()
    return
  try:
    while True:
      try:
        message, payload = conn.recv()
      except (EOFError, KeyboardInterrupt):
        break
      if message == _CLOSE:
        break
      try:
        if message == _ACCESS:
          result = getattr(env, payload)
        else:
          name, args, kwargs = payload
          result = getattr(env, name)(*args, **kwargs)
        conn.send((_RESULT, result))
      except Exception:
        conn.send((_EXCEPTION, traceback.format_exc()))
  finally:
    try:
      env.close()
    except Exception:
      pass
    conn.close()


def _how(exitcode):
  if exitcode is None:
    return 'it stopped answering'
  if exitcode < 0:
    try:
      return f'killed by signal {signal.Signals(-exitcode).name}'
    except ValueError:
      return f'killed by signal {-exitcode}'
  return f'exit code {exitcode}'


class AsyncEnv:
  """A gymnasium env in the caller's thread (`none`), a worker thread or a worker process."""

  def __init__(self, constructor, strategy='thread'):
    if strategy not in STRATEGIES:
      raise ValueError(f'isolation strategy {strategy!r}; allowed: thread, process, or none')
    self._constructor = constructor
    self._strategy = strategy
    self._start()
    self.observation_space = self.access('observation_space')
    self.action_space = self.access('action_space')

  def _start(self):
    self._closed = False
    self._env = self._worker = self._conn = None
    if self._strategy == 'none':
      self._env = self._constructor()
      return
    if self._strategy == 'thread':
      self._conn, worker_conn = multiprocessing.dummy.Pipe()
      start = threading.Thread
    else:
      context = multiprocessing.get_context('spawn')
      self._conn, worker_conn = context.Pipe()
      start = context.Process
    self._worker = start(target=_worker, args=(self._constructor, worker_conn), daemon=True)
    self._worker.start()
    _OPEN.add(self)

  def alive(self):
    """False when the worker died; True for `none` and for a closed env's live worker."""
    return self._worker is None or self._worker.is_alive()

  def _receive(self):
    try:
      message, payload = self._conn.recv()
    except (EOFError, ConnectionResetError, BrokenPipeError, OSError):
      self._worker.join(1)
      how = _how(getattr(self._worker, 'exitcode', None))
      self.close()
      raise WorkerDied(f'environment worker ({self._strategy}) died: {how}') from None
    if message == _EXCEPTION:
      self.close()
      raise WorkerError(f'in environment worker ({self._strategy}):\n{payload}')
    return payload

  def _send(self, message, payload):
    if self._closed:
      raise RuntimeError('environment is closed')
    try:
      self._conn.send((message, payload))
    except (BrokenPipeError, ConnectionResetError, OSError):
      self._worker.join(1)
      how = _how(getattr(self._worker, 'exitcode', None))
      self.close()
      raise WorkerDied(f'environment worker ({self._strategy}) died: {how}') from None

  def access(self, name):
    """The value of an attribute of the env."""
    if self._env is not None:
      return getattr(self._env, name)
    self._send(_ACCESS, name)
    return self._receive()

  def call(self, name, *args, blocking=True, **kwargs):
    if self._env is not None:
      if self._closed:
        raise RuntimeError('environment is closed')
      result = getattr(self._env, name)(*args, **kwargs)
      return result if blocking else lambda: result
    self._send(_CALL, (name, args, kwargs))
    return self._receive() if blocking else self._receive

  def step(self, action, blocking=True):
    return self.call('step', action, blocking=blocking)

  def reset(self, blocking=True, **kwargs):
    return self.call('reset', blocking=blocking, **kwargs)

  def restart(self):
    """Closes the env (or what is left of its worker) and builds a new one with the constructor."""
    self.close()
    self._start()

  def close(self):
    if self._closed:
      return
    self._closed = True
    if self._env is not None:
      self._env.close()
      return
    try:
      self._conn.send((_CLOSE, None))
    except (OSError, ValueError):
      pass
    self._worker.join(5)
    if self._strategy == 'process' and self._worker.is_alive():
      self._worker.terminate()
      self._worker.join(5)
    self._conn.close()

  def __del__(self):
    try:
      self.close()
    except Exception:
      pass


@atexit.register
def _close_all():
  for env in list(_OPEN):
    env.close()


class BatchEnv:
  """Steps several AsyncEnvs at once: all actions are sent, then all results gathered.

  The envs must share their observation and action spaces. An action outside the action space is a
  ValueError. `reset(indices)` resets only the given envs.
  """

  def __init__(self, envs):
    self.envs = list(envs)
    first = self.envs[0]
    for env in self.envs[1:]:
      if env.observation_space != first.observation_space or env.action_space != first.action_space:
        raise ValueError('all environments of a batch need the same observation and action spaces')
    self.observation_space = first.observation_space
    self.action_space = first.action_space

  def __len__(self):
    return len(self.envs)

  def step(self, actions, indices=None):
    """Steps envs `indices` (default all) with their rows of `actions`; returns their results."""
    indices = range(len(self.envs)) if indices is None else indices
    for index in indices:
      if not self.action_space.contains(actions[index]):
        raise ValueError(f'invalid action for env {index}: {actions[index]!r}; '
                         f'allowed: {self.action_space}')
    promises = [self.envs[i].step(actions[i], blocking=False) for i in indices]
    return [promise() for promise in promises]

  def reset(self, indices=None, seeds=None):
    """Resets envs `indices` (default all), each with its entry of `seeds` if given."""
    indices = range(len(self.envs)) if indices is None else indices
    promises = [self.envs[i].reset(blocking=False, **({} if seeds is None else {'seed': seeds[i]}))
                for i in indices]
    return [promise() for promise in promises]

  def reset_observations(self, keys, seeds=None):
    """Resets every env; returns their stacked observations of `keys` and all-False done flags."""
    results = self.reset(seeds=seeds)
    observations = {key: np.stack([obs[key] for obs, _ in results]) for key in keys}
    return observations, np.zeros(len(self.envs), bool)

  def step_observations(self, keys, actions, done, observations):
    """Steps the envs not yet `done`. Returns the new observations of `keys` (an env that is done
    keeps its last one), the rewards (0 for envs already done) and the new done flags."""
    observations = {key: np.array(value) for key, value in observations.items()}
    rewards = np.zeros(len(self.envs), np.float32)
    ends = np.array(done, bool)
    active = np.flatnonzero(~ends)
    for index, (obs, reward, terminated, truncated, _) in zip(active, self.step(actions, active)):
      for key in keys:
        observations[key][index] = obs[key]
      rewards[index] = reward
      ends[index] = terminated or truncated
    return observations, rewards, ends

  def dead(self):
    """The indices of envs whose worker died."""
    return [i for i, env in enumerate(self.envs) if not env.alive()]

  def restart_dead(self):
    """Restarts the envs whose worker died; returns their indices."""
    dead = self.dead()
    for index in dead:
      self.envs[index].restart()
    return dead

  def close(self):
    for env in self.envs:
      env.close()
