"""PlaNet: Deep Planning Network (Hafner et al., ICML 2019) in TensorFlow 2.

Importing the package sets three environment defaults before TensorFlow or MuJoCo is loaded, unless the
user has set them already:

* ``TF_ENABLE_ONEDNN_OPTS=1``: TensorFlow 2.21 leaves oneDNN off on AVX2-only AMD CPUs, which makes the
  train step 7-8x slower (scripts/benchmark.py measures it).
* ``MUJOCO_GL=egl``: headless rendering for dm_control.
* ``TF_CPP_MIN_LOG_LEVEL=1``: TensorFlow's C++ log lines of level WARNING and above only.

TensorFlow's libraries log while they load, before they read TF_CPP_MIN_LOG_LEVEL (TF 2.21: "oneDNN custom
operations are on", "Could not find cuda drivers", absl's "All log messages before absl::InitializeLog()",
each twice as two libraries carry their own copy), and on a machine without an NVIDIA driver the first
device lookup logs "failed call to cuInit" at level ERROR. No environment variable hides the load-time
lines, and TF_CPP_MIN_LOG_LEVEL=3 hides the cuInit line only together with every real error. So the first
`import tensorflow` after `import planet` runs with its stderr captured, followed by that device lookup,
and the captured lines are written back except those below TF_CPP_MIN_LOG_LEVEL and, without an NVIDIA
driver, the cuInit line. Everything else (warnings, errors, Python output) comes through, in order.
``TF_CPP_MIN_LOG_LEVEL=0`` turns the filter off and shows TensorFlow's output unchanged.
"""

import os
import re
import sys

os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')

__version__ = '0.1.0'

# absl's C++ log prefix, e.g. "I0000 00:00:1795596317.604378    4216 port.cc:153] ".
_LOG_LINE = re.compile(rb'([IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] ')
_SEVERITY = {b'I': 0, b'W': 1, b'E': 2, b'F': 3}


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
  """A meta path finder that takes part in the first import of `tensorflow` only (see the docstring)."""

  def find_spec(self, name, path=None, target=None):
    if name != 'tensorflow':
      return None
    if self in sys.meta_path:
      sys.meta_path.remove(self)
    import importlib.util
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
      import tempfile
      capture = tempfile.TemporaryFile()
      sys.stderr.flush()
      saved = os.dup(2)
    except (OSError, AttributeError, ValueError):  # No usable stderr or temp dir: load unfiltered.
      return self._loader.exec_module(module)
    os.dup2(capture.fileno(), 2)
    try:
      self._loader.exec_module(module)
      if not cuda_expected:
        try:
          module.config.list_physical_devices('GPU')  # Logs the cuInit failure here, not later.
        except Exception:  # pylint: disable=broad-except  (it fails again, visibly, at first use)
          pass
    finally:
      try:
        sys.stderr.flush()
      except (OSError, ValueError):
        pass
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      kept = b''.join(line for line in capture.read().splitlines(keepends=True)
                      if _keep(line, level, cuda_expected))
      capture.close()
      while kept:
        kept = kept[os.write(2, kept):]


if 'tensorflow' not in sys.modules and _min_log_level() >= 1:
  sys.meta_path.insert(0, _QuietTensorFlowStart())
