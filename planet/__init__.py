"""PlaNet: Deep Planning Network (Hafner et al., ICML 2019) in TensorFlow 2.

Importing the package sets two environment defaults, unless the user has set them already, so that
TensorFlow and MuJoCo find them when they load (later, and only if nothing loaded them before):

* ``TF_ENABLE_ONEDNN_OPTS=1``: TensorFlow 2.21 leaves oneDNN off on AVX2-only AMD CPUs, which makes the
  train step 7-8x slower (scripts/benchmark.py measures it).
* ``MUJOCO_GL=egl``: headless rendering for dm_control.

Nothing else: no import hook, no file descriptor, no log level. The commands quiet TensorFlow's start
themselves (`planet.tools.quiet_start`).
"""

import os

os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
os.environ.setdefault('MUJOCO_GL', 'egl')

__version__ = '0.1.0'
