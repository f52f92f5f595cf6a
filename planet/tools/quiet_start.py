"""A quiet TensorFlow start, for the commands: `install()` before TensorFlow is imported.

TensorFlow's libraries log while they load, before they read TF_CPP_MIN_LOG_LEVEL (TF 2.21: "oneDNN custom
operations are on", "Could not find cuda drivers", absl's "All log messages before absl::InitializeLog()",
each twice as two libraries carry their own copy), and on a machine without an NVIDIA driver the first
device lookup logs "failed call to cuInit" at level ERROR. No environment variable hides the load-time
lines, and TF_CPP_MIN_LOG_LEVEL=3 hides the cuInit line only together with every real error. So after
`install()` the first `import tensorflow` runs with its stderr captured, followed by that device lookup,
and the captured lines are written back except those below TF_CPP_MIN_LOG_LEVEL (1 unless set: WARNING and
above) and, without an NVIDIA driver, the cuInit line. Everything else (warnings, errors, Python output)
comes through, in order. ``TF_CPP_MIN_LOG_LEVEL=0`` turns the filter off and shows TensorFlow's output
unchanged.

This is the commands' business, not the library's: `import planet` adds no import hook and leaves file
descriptor 2 alone, so a researcher's own `import tensorflow` behaves as TensorFlow's always does.
"""

import contextlib
import importlib.util
import os
import re
import sys
import tempfile

# absl's C++ log prefix, e.g. "I0000 00:00:1795596317.604378    4216 port.cc:153] ".
_LOG_LINE = re.compile(rb'([IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] ')
_SEVERITY = {b'I': 0, b'W': 1, b'E': 2, b'F': 3}


def install():
  """Makes the first `import tensorflow` of this process quiet (see the module docstring); nothing when
  TensorFlow is loaded already or TF_CPP_MIN_LOG_LEVEL is 0. Call it before anything imports TensorFlow."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  if 'tensorflow' in sys.modules or _min_log_level() < 1:
    return
  if not any(isinstance(finder, _QuietTensorFlowStart) for finder in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorFlowStart())


@contextlib.contextmanager
def stderr_to(file):
  """Sends what is written to file descriptor 2 (also by C and C++ code) to `file` meanwhile."""
  _flush_stderr()
  saved = os.dup(2)
  os.dup2(file.fileno(), 2)
  try:
    yield
  finally:
    _flush_stderr()
    os.dup2(saved, 2)
    os.close(saved)


def _flush_stderr():
  try:
    sys.stderr.flush()
  except (AttributeError, OSError, ValueError):  # No Python stderr, or a closed one.
    pass


def _min_log_level():
  try:
    return int(os.environ.get('TF_CPP_MIN_LOG_LEVEL', '0'))
  except ValueError:
    return 0  # As TensorFlow reads it.


def _nvidia_driver():
  return os.path.exists('/proc/driver/nvidia') or os.path.exists('/dev/dxg')  # Linux, WSL2


def _keep(line, level, cuda_expected):
  """Whether a line TensorFlow wrote to stderr while it loaded is worth showing."""
  if line.startswith(b'WARNING: All log messages before absl::InitializeLog()'):
    return False
  match = _LOG_LINE.match(line)
  if not match:
    return True
  severity = _SEVERITY[match.group(1)]
  if severity < level and severity < 3:  # As TensorFlow: FATAL always shows.
    return False
  return cuda_expected or b'failed call to cuInit' not in line


class _QuietTensorFlowStart:
  """A meta path finder that takes part in the first import of `tensorflow` only, then leaves."""

  def find_spec(self, name, path=None, target=None):
    if name != 'tensorflow':
      return None
    if self in sys.meta_path:
      sys.meta_path.remove(self)
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.loader is not None and hasattr(spec.loader, 'exec_module'):
      spec.loader = _QuietLoader(spec.loader)
    return spec


class _QuietLoader:

  def __init__(self, loader):
    self._loader = loader

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    module.__loader__ = module.__spec__.loader = self._loader  # The wrapper leaves no trace.
    level, cuda_expected = _min_log_level(), _nvidia_driver()
    if level < 1:
      return self._loader.exec_module(module)
    try:
      os.fstat(2)
      capture = tempfile.TemporaryFile()
    except OSError:  # No temp dir or no stderr: load unfiltered.
      return self._loader.exec_module(module)
    with capture:
      try:
        with stderr_to(capture):
          self._loader.exec_module(module)
          if not cuda_expected:
            _look_up_gpus(module)
      finally:
        capture.seek(0)
        kept = b''.join(line for line in capture.read().splitlines(keepends=True)
                        if _keep(line, level, cuda_expected))
        while kept:
          kept = kept[os.write(2, kept):]


def _look_up_gpus(tf):
  """Logs the cuInit failure now, while it is captured, not at the first use."""
  try:
    tf.config.list_physical_devices('GPU')
  except Exception:  # pylint: disable=broad-except  (it fails again, visibly, at first use)
    pass
