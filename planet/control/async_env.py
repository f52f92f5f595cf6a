"""Environments isolated in a worker thread or process (spec 3.6: `isolate_envs: thread | process`).

`AsyncEnv(constructor, strategy)` builds the env inside the worker and talks to it over a pipe:
`step` and `reset` can be non-blocking (`blocking=False` returns a promise, a callable that waits for
the result), worker exceptions are re-raised in the caller with the worker's traceback, and `close` ends
the worker. Process workers are started with the `spawn` method (never `fork` after TensorFlow has
started threads), are daemons, and are closed at exit, so no child outlives the parent.
"""

import atexit
import multiprocessing
import multiprocessing.dummy
import threading
import traceback
import weakref

import numpy as np

_ACCESS, _CALL, _RESULT, _EXCEPTION, _CLOSE = range(5)
_OPEN = weakref.WeakSet()


class WorkerError(RuntimeError):
  """An exception inside an environment worker; its message holds the worker's traceback."""


def _worker(constructor, conn):
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


class AsyncEnv:
  """A gymnasium env running in a worker thread or process."""

  def __init__(self, constructor, strategy='thread'):
    if strategy == 'thread':
      self._conn, worker_conn = multiprocessing.dummy.Pipe()
      start = threading.Thread
    elif strategy == 'process':
      context = multiprocessing.get_context('spawn')
      self._conn, worker_conn = context.Pipe()
      start = context.Process
    else:
      raise ValueError(f'isolation strategy {strategy!r}; allowed: thread, process')
    self._worker = start(target=_worker, args=(constructor, worker_conn), daemon=True)
    self._worker.start()
    self._strategy = strategy
    self._closed = False
    self._lock = threading.Lock()
    self._pending = 0
    _OPEN.add(self)
    self.observation_space = self.access('observation_space')
    self.action_space = self.access('action_space')

  def _receive(self):
    try:
      message, payload = self._conn.recv()
    except (EOFError, ConnectionResetError, OSError):
      self.close()
      raise WorkerError(f'environment worker ({self._strategy}) died unexpectedly') from None
    finally:
      self._pending -= 1
    if message == _EXCEPTION:
      self.close()
      raise WorkerError(f'in environment worker ({self._strategy}):\n{payload}')
    return payload

  def _send(self, message, payload):
    if self._closed:
      raise RuntimeError('environment is closed')
    self._conn.send((message, payload))
    self._pending += 1

  def access(self, name):
    """The value of an attribute of the env in the worker."""
    self._send(_ACCESS, name)
    return self._receive()

  def call(self, name, *args, blocking=True, **kwargs):
    self._send(_CALL, (name, args, kwargs))
    return self._receive() if blocking else self._receive

  def step(self, action, blocking=True):
    return self.call('step', action, blocking=blocking)

  def reset(self, blocking=True, **kwargs):
    return self.call('reset', blocking=blocking, **kwargs)

  def render(self):
    return self.call('render')

  def close(self):
    if self._closed:
      return
    self._closed = True
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
  """Steps several envs at once: all actions are sent, then all results gathered (spec 3.6).

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

  def _call(self, env, name, *args):
    if isinstance(env, AsyncEnv):
      return getattr(env, name)(*args, blocking=False)
    result = getattr(env, name)(*args)
    return lambda: result

  def step(self, actions, indices=None):
    """Steps envs `indices` (default all) with their rows of `actions`; returns their results."""
    indices = range(len(self.envs)) if indices is None else indices
    for index in indices:
      if not self.action_space.contains(actions[index]):
        raise ValueError(f'invalid action for env {index}: {actions[index]!r}; '
                         f'allowed: {self.action_space}')
    promises = [self._call(self.envs[i], 'step', actions[i]) for i in indices]
    return [promise() for promise in promises]

  def reset(self, indices=None):
    indices = range(len(self.envs)) if indices is None else indices
    promises = [self._call(self.envs[i], 'reset') for i in indices]
    return [promise() for promise in promises]

  def reset_images(self):
    """Resets every env; returns their stacked `image` observations."""
    return np.stack([obs['image'] for obs, _ in self.reset()])

  def step_images(self, actions, done, images):
    """Steps the envs not yet `done`, writing their new images into `images` in place. Returns the
    rewards (0 for envs already done) and the new done flags."""
    rewards = np.zeros(len(self.envs), np.float32)
    ends = np.array(done, bool)
    active = np.flatnonzero(~ends)
    for index, (obs, reward, terminated, truncated, _) in zip(active, self.step(actions, active)):
      images[index] = obs['image']
      rewards[index] = reward
      ends[index] = terminated or truncated
    return rewards, ends

  def close(self):
    for env in self.envs:
      env.close()
