"""Makes MuJoCo's headless rendering work in a process that also runs TensorFlow.

TensorFlow loads its shared library with RTLD_GLOBAL, and that library exports its own copy of LLVM.
Mesa's software rasteriser (llvmpipe, in swrast_dri.so or libgallium) links libLLVM too; loaded after
TensorFlow it binds its LLVM calls to TensorFlow's copy and crashes in mjr_makeContext (measured here:
SIGSEGV in llvm::FixedVectorType::get). Loading the Mesa driver first with RTLD_DEEPBIND makes it resolve
its symbols from its own dependencies, which fixes it in either import order. The images are unchanged.
"""

import ctypes
import glob
import os
import sys

_PRELOADED = []

_PATTERNS = (
    '{dir}/swrast_dri.so',
    '{dir}/../libgallium*.so',
)
_DIRS = (
    '/usr/lib/x86_64-linux-gnu/dri', '/usr/lib/aarch64-linux-gnu/dri', '/usr/lib64/dri',
    '/usr/lib/dri',
)


def preload_mesa():
  """Loads Mesa's software GL driver with RTLD_DEEPBIND once; a no-op when it is not there."""
  if _PRELOADED or not sys.platform.startswith('linux'):
    return
  if os.environ.get('MUJOCO_GL', 'egl') not in ('egl', 'osmesa'):
    return
  dirs = [d for d in os.environ.get('LIBGL_DRIVERS_PATH', '').split(':') if d] + list(_DIRS)
  for directory in dirs:
    for pattern in _PATTERNS:
      for path in sorted(glob.glob(pattern.format(dir=directory))):
        try:
          _PRELOADED.append(
              ctypes.CDLL(path, mode=os.RTLD_LOCAL | os.RTLD_DEEPBIND | os.RTLD_NOW))
        except OSError:
          continue
    if _PRELOADED:
      return
