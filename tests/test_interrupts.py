"""Ctrl-C and SIGTERM reach the sweep's driver loop even when a library call swallows the
KeyboardInterrupt they raise (the sweep's Ctrl-C test once timed out with the driver polling on)."""

import os
import signal
import types

import pytest

from planet.scripts import sweep
from planet.tools import cli


@pytest.fixture
def handlers():
  saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
  yield
  for sig, handler in saved.items():
    signal.signal(sig, handler)
  cli.INTERRUPTED.clear()


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_a_signal_raises_and_is_remembered(handlers, sig):
  cli.note_interrupts()
  cli.raise_if_interrupted()  # nothing yet
  with pytest.raises(KeyboardInterrupt):
    os.kill(os.getpid(), sig)
  assert cli.INTERRUPTED.is_set()
  with pytest.raises(KeyboardInterrupt):
    cli.raise_if_interrupted()
  cli.note_interrupts()  # a new command starts uninterrupted
  cli.raise_if_interrupted()


def test_the_driver_loop_stops_on_a_swallowed_ctrl_c(handlers):
  """A Ctrl-C during ray.wait whose KeyboardInterrupt Ray caught: the next poll raises it."""
  cli.note_interrupts()
  polls = []

  def wait(refs, num_returns, timeout):
    polls.append(timeout)
    try:
      os.kill(os.getpid(), signal.SIGINT)
    except KeyboardInterrupt:
      pass  # swallowed, as inside a library
    return [], refs

  ray = types.SimpleNamespace(wait=wait, get=lambda ref, timeout: (0.0, {}),
                              exceptions=types.SimpleNamespace(RayError=RuntimeError))
  board = types.SimpleNamespace(state=types.SimpleNamespace(remote=lambda: None))
  with pytest.raises(KeyboardInterrupt):
    sweep._follow(ray, board, {'ref': types.SimpleNamespace(name='planet/dummy/00001')}, 0)
  assert polls == [sweep.POLL_SECONDS]  # one poll, then the remembered Ctrl-C


def test_the_trainer_stops_on_a_remembered_interrupt(tmp_path, handlers):
  """The trainer's loop raises a Ctrl-C that was lost before its next step (before any score)."""
  from planet.scripts import configs
  from planet.scripts import train
  params = configs.resolve({'tasks': ['dummy'], 'max_steps': 40, 'seed': 1, 'isolate_envs': 'none'},
                           'debug')
  process = train.process(params, str(tmp_path / 'run'))
  cli.INTERRUPTED.set()
  with pytest.raises(KeyboardInterrupt):
    next(process)
