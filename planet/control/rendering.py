"""Makes MuJoCo's headless rendering work in a process that also runs TensorFlow.

TensorFlow loads its shared library with RTLD_GLOBAL, and that library exports its own copy of LLVM.
Mesa's software rasteriser (llvmpipe, in swrast_dri.so or libgallium) links libLLVM too; loaded after
TensorFlow it binds its LLVM calls to TensorFlow's copy and crashes in mjr_makeContext (measured here:
SIGSEGV in llvm::FixedVectorType::get). Loading the Mesa driver first with RTLD_DEEPBIND makes it resolve
its symbols from its own dependencies, which fixes it in either import order. The images are unchanged.

That preload is done only where Mesa renders. Which EGL driver renders is libglvnd's choice, and
`decide` follows it from the files alone (nothing is loaded to find out):

* libglvnd reads the vendor files named in `__EGL_VENDOR_LIBRARY_FILENAMES`, in that order; otherwise
  every `*.json` in the directories of `__EGL_VENDOR_LIBRARY_DIRS` (by default /etc/glvnd/egl_vendor.d,
  then /usr/share/glvnd/egl_vendor.d), in name order within a directory. It loads each vendor library it
  can find; NVIDIA's driver installs 10_nvidia.json, Mesa 50_mesa.json.
* dm_control renders on the first EGL device that initialises, or on device `MUJOCO_EGL_DEVICE_ID`, and
  libglvnd lists the devices vendor by vendor in that order: NVIDIA's, one per GPU (/dev/nvidiaN), come
  before Mesa's whenever NVIDIA's vendor file sorts first and its library is installed.

So on a machine with NVIDIA's EGL, NVIDIA renders and Mesa's LLVM is never used: preloading it there
would only add a library loaded with RTLD_DEEPBIND, which breaks processes that replace malloc (jemalloc,
tcmalloc, sanitizers). Mesa's driver is preloaded where Mesa renders: it is the only EGL vendor, or comes
first, or the user picked it (`__EGL_VENDOR_LIBRARY_FILENAMES=/usr/share/glvnd/egl_vendor.d/50_mesa.json`,
or a `MUJOCO_EGL_DEVICE_ID` past the NVIDIA GPUs); and, as before, with MUJOCO_GL=osmesa and where libEGL
is not libglvnd's (no vendor files at all).
"""

import collections
import ctypes
import glob
import json
import os
import subprocess
import sys

_PRELOADED = []
_DECIDED = []

_PATTERNS = (
    '{dir}/swrast_dri.so',
    '{dir}/../libgallium*.so',
)
_DIRS = (
    '/usr/lib/x86_64-linux-gnu/dri', '/usr/lib/aarch64-linux-gnu/dri', '/usr/lib64/dri',
    '/usr/lib/dri',
)
VENDOR_DIRS = ('/etc/glvnd/egl_vendor.d', '/usr/share/glvnd/egl_vendor.d')  # libglvnd's defaults
_LIBRARY_DIRS = ('/lib', '/usr/lib', '/lib64', '/usr/lib64')

Vendor = collections.namedtuple('Vendor', 'kind, library, file')
Decision = collections.namedtuple('Decision', 'preload, renderer, reason')


def vendor_files(environ, vendor_dirs=VENDOR_DIRS):
  """The EGL vendor files libglvnd reads, in its order."""
  if environ.get('__EGL_VENDOR_LIBRARY_FILENAMES') is not None:
    return [name for name in environ['__EGL_VENDOR_LIBRARY_FILENAMES'].split(':') if name]
  dirs = environ.get('__EGL_VENDOR_LIBRARY_DIRS')
  dirs = dirs.split(':') if dirs is not None else vendor_dirs
  files = []
  for directory in dirs:
    try:
      names = sorted(name for name in os.listdir(directory) if name.endswith('.json'))
    except OSError:
      continue
    files += [os.path.join(directory, name) for name in names]
  return files


def vendors(files, found):
  """The vendors libglvnd loads from `files`: valid files (format 1.0.x) whose library `found(path)`
  says is installed."""
  result = []
  for path in files:
    try:
      with open(path) as f:
        content = json.load(f)
      version = content['file_format_version'].split('.')
      library = content['ICD']['library_path']
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
      continue
    if version[0] != '1' or (len(version) > 1 and version[1] != '0') or not isinstance(library, str):
      continue
    if '/' in library and not os.path.isabs(library):  # Relative to the file, as libglvnd reads it.
      library = os.path.join(os.path.dirname(path), library)
    if not found(library):
      continue
    name = os.path.basename(library).lower()
    kind = 'nvidia' if 'nvidia' in name else 'mesa' if 'mesa' in name else 'other'
    result.append(Vendor(kind, library, path))
  return result


def decide(environ, vendor_dirs=VENDOR_DIRS, found=None, nvidia_gpus=None):
  """Whether to preload Mesa's driver, which vendor renders and why (see the module docstring).

  `vendor_dirs` are libglvnd's default vendor-file directories, `found(library)` says whether a vendor
  library is installed and `nvidia_gpus` is the number of NVIDIA GPUs (the defaults look at this
  machine); tests pass fakes."""
  backend = environ.get('MUJOCO_GL', 'egl')
  if backend == 'osmesa':
    return Decision(True, 'mesa', 'MUJOCO_GL=osmesa renders with Mesa')
  if backend != 'egl':
    return Decision(False, None, f'MUJOCO_GL={backend}: not EGL')
  files = vendor_files(environ, vendor_dirs)
  if not files:
    return Decision(True, 'mesa', 'no EGL vendor files: libEGL is not libglvnd\'s, assumed Mesa')
  found = found or _library_found
  nvidia_gpus = _nvidia_gpus() if nvidia_gpus is None else nvidia_gpus
  installed = vendors(files, found)
  try:
    device = int(environ.get('MUJOCO_EGL_DEVICE_ID') or 0)
  except ValueError:
    device = 0  # dm_control reports it.
  listed = ', '.join(vendor.file for vendor in installed) or 'none installed'
  for vendor in installed:  # libglvnd's device list: each vendor's devices in vendor order
    if vendor.kind == 'nvidia':
      if device < nvidia_gpus:
        return Decision(False, 'nvidia', f'NVIDIA renders (vendors: {listed}; NVIDIA GPUs: {nvidia_gpus})')
      device -= nvidia_gpus
    elif vendor.kind == 'mesa':
      return Decision(True, 'mesa', f'Mesa renders (vendors: {listed}; NVIDIA GPUs: {nvidia_gpus})')
  return Decision(False, None, f'neither NVIDIA nor Mesa renders (vendor files: {", ".join(files)}; '
                               f'installed: {listed})')


def _nvidia_gpus():
  return len(glob.glob('/dev/nvidia[0-9]*'))


def _library_found(library):
  """Whether the dynamic linker would find `library` (a path, or a name in its search path)."""
  if '/' in library:
    return os.path.exists(library)
  dirs = [d for d in os.environ.get('LD_LIBRARY_PATH', '').split(':') if d]
  dirs += list(_LIBRARY_DIRS) + glob.glob('/usr/lib/*-linux-gnu') + glob.glob('/lib/*-linux-gnu')
  return any(os.path.exists(os.path.join(d, library)) for d in dirs) or library in _cached_libraries()


def _cached_libraries():
  """The library names in the dynamic linker's cache (`ldconfig -p`)."""
  for ldconfig in ('ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig'):
    try:
      out = subprocess.run([ldconfig, '-p'], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
      continue
    return {line.split()[0] for line in out.splitlines()[1:] if line.strip()}
  return set()


def decision():
  """This process's decision (made once)."""
  if not _DECIDED:
    _DECIDED.append(decide(os.environ))
  return _DECIDED[0]


def preload_mesa():
  """Loads Mesa's software GL driver with RTLD_DEEPBIND once, where Mesa renders; a no-op when the
  driver is not there."""
  if _PRELOADED or not sys.platform.startswith('linux') or not decision().preload:
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


def preloaded():
  """The paths of the Mesa libraries this process preloaded."""
  return [library._name for library in _PRELOADED]
