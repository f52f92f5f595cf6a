"""The quiet start of the commands: TensorFlow's load-time notices are hidden, its real warnings and errors
are not; `import planet` alone changes neither stderr nor the import system."""

import importlib
import os
import subprocess
import sys
import types

import pytest

import planet
from planet.tools import quiet_start

from conftest import REPO

NOISE = ('oneDNN', 'cuInit', 'cudart', 'cuda drivers', 'absl::InitializeLog')
NOTICE = b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n'
INFO = b'I0000 00:00:1795596317.604378    4216 port.cc:153] oneDNN custom operations are on.\n'
WARNING = b'W0000 00:00:1795596317.700000    4216 loader.cc:12] a real warning\n'
ERROR = b'E0000 00:00:1795596317.800000    4216 session.cc:34] a real error\n'
CUINIT = (b'E0000 00:00:1795596320.198817    4216 cuda_platform.cc:52] failed call to cuInit: INTERNAL: '
          b'CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n')


def run_python(code, **env):
  environ = {**os.environ, 'PYTHONPATH': REPO}
  environ.pop('TF_CPP_MIN_LOG_LEVEL', None)  # As a user who set nothing has it (the suite sets it).
  result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO,
                          timeout=120, env={**environ, **env})
  assert result.returncode == 0, result.stderr
  return result.stdout, result.stderr


SUM = 'import tensorflow as tf; print(tf.reduce_sum(tf.ones(3)).numpy())'


@pytest.mark.slow  # subprocesses that import TensorFlow
def test_tensorflow_starts_quietly_in_the_commands_only():
  stdout, stderr = run_python('from planet.tools import quiet_start; quiet_start.install(); ' + SUM)
  assert stdout == '3.0\n'
  assert not [line for line in stderr.splitlines() if any(word in line for word in NOISE)], stderr
  # The library alone leaves TensorFlow's output as it is (this machine prints the oneDNN notice).
  stdout, stderr = run_python('import planet; ' + SUM)
  assert stdout == '3.0\n' and 'oneDNN custom operations are on' in stderr


def test_importing_the_package_adds_no_import_hook_and_keeps_stderr(monkeypatch):
  monkeypatch.delitem(sys.modules, 'tensorflow', raising=False)  # As before the first import.
  monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', '1')
  finders, stderr = list(sys.meta_path), os.fstat(2)
  importlib.reload(planet)
  assert sys.meta_path == finders
  assert (os.fstat(2).st_dev, os.fstat(2).st_ino) == (stderr.st_dev, stderr.st_ino)


@pytest.mark.parametrize('level, hooks', [('1', 1), ('2', 1), ('0', 0)])
def test_install_adds_one_hook_that_leaves_at_the_tensorflow_import(monkeypatch, level, hooks):
  monkeypatch.delitem(sys.modules, 'tensorflow', raising=False)
  monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', level)  # 0: TensorFlow's output unchanged, no hook.
  monkeypatch.setattr(sys, 'meta_path', [  # Without the suite's own hook (tests/conftest.py).
      f for f in sys.meta_path if not isinstance(f, quiet_start._QuietTensorFlowStart)])
  quiet_start.install()
  quiet_start.install()
  added = [f for f in sys.meta_path if isinstance(f, quiet_start._QuietTensorFlowStart)]
  assert len(added) == hooks
  for finder in added:
    assert finder.find_spec('numpy') is None and finder in sys.meta_path  # Other imports: untouched.
    spec = finder.find_spec('tensorflow')
    assert isinstance(spec.loader, quiet_start._QuietLoader) and finder not in sys.meta_path


class FakeLoader:
  """Writes TensorFlow-like lines to file descriptor 2 as the real libraries do while they load."""

  def __init__(self):
    self.lookups = 0

  def create_module(self, spec):
    return None

  def exec_module(self, module):
    for line in (NOTICE, INFO, b'plain text from Python\n', WARNING, ERROR, NOTICE, INFO):
      os.write(2, line)
    module.config = types.SimpleNamespace(list_physical_devices=self.list_physical_devices)

  def list_physical_devices(self, kind):
    assert kind == 'GPU'
    self.lookups += 1
    os.write(2, CUINIT)
    return []


def load_fake(monkeypatch, capfd, level, driver):
  monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', level)
  monkeypatch.setattr(quiet_start, '_nvidia_driver', lambda: driver)
  loader = FakeLoader()
  module = types.ModuleType('fake')
  module.__spec__ = types.SimpleNamespace(loader=None)
  capfd.readouterr()
  quiet_start._QuietLoader(loader).exec_module(module)
  assert module.__loader__ is loader and module.__spec__.loader is loader
  return loader.lookups, capfd.readouterr().err.encode()


@pytest.mark.parametrize('level, driver, lookups, expected', [
    # Without an NVIDIA driver the cuInit failure is expected, looked up during the import and hidden.
    ('1', False, 1, b'plain text from Python\n' + WARNING + ERROR),
    # With a driver it means a broken GPU setup: no early lookup, and the line would show.
    ('1', True, 0, b'plain text from Python\n' + WARNING + ERROR),
    ('2', False, 1, b'plain text from Python\n' + ERROR),
    ('0', False, 0, NOTICE + INFO + b'plain text from Python\n' + WARNING + ERROR + NOTICE + INFO),
])
def test_load_time_lines_are_filtered_by_level(monkeypatch, capfd, level, driver, lookups, expected):
  assert load_fake(monkeypatch, capfd, level, driver) == (lookups, expected)


def test_keep_shows_cuinit_failure_when_a_driver_is_present():
  assert not quiet_start._keep(CUINIT, 1, cuda_expected=False)
  assert quiet_start._keep(CUINIT, 1, cuda_expected=True)
  assert quiet_start._keep(b'F0000 00:00:1.5  1 x.cc:1] fatal\n', 3, cuda_expected=False)
  assert not quiet_start._keep(ERROR, 3, cuda_expected=False)
