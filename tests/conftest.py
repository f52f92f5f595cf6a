import os
import sys

import planet  # noqa: F401  (environment defaults before TensorFlow loads)
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def run_train(tmp_path):
  """Runs the train command in a subprocess; returns (returncode, stdout, stderr)."""
  import subprocess

  def run(*args, timeout=600, **kwargs):
    result = subprocess.run(
        [sys.executable, '-m', 'planet.scripts.train', *args], capture_output=True, text=True,
        timeout=timeout, cwd=REPO, **kwargs)
    return result.returncode, result.stdout, result.stderr
  return run
