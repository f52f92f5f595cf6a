"""PlaNet: Deep Planning Network (Hafner et al., ICML 2019) in TensorFlow 2.

Importing the package sets two environment defaults before TensorFlow or MuJoCo is loaded, unless the
user has set them already:

* ``TF_ENABLE_ONEDNN_OPTS=1``: TensorFlow 2.21 leaves oneDNN off on AVX2-only AMD CPUs, which makes the
  train step 7-8x slower (see ../shared/DESIGN.md and scripts/benchmark.py).
* ``MUJOCO_GL=egl``: headless rendering for dm_control.
"""

import os

os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')

__version__ = '0.1.0'
