"""Which EGL vendor renders, and where Mesa's driver is preloaded: libglvnd's vendor files faked in
temporary directories (the NVIDIA cases cannot render on a machine without NVIDIA's driver)."""

import json
import os

import pytest

from planet.control import rendering

NVIDIA, MESA = 'libEGL_nvidia.so.0', 'libEGL_mesa.so.0'
EGL = {'MUJOCO_GL': 'egl'}


def vendor_dir(root, *files, version='1.0.0'):
  """A vendor-file directory with `files`, each (name, library)."""
  root.mkdir(parents=True, exist_ok=True)
  for name, library in files:
    (root / name).write_text(json.dumps(
        {'file_format_version': version, 'ICD': {'library_path': library}}))
  return str(root)


def decide(dirs, environ=EGL, installed=(NVIDIA, MESA), gpus=1):
  return rendering.decide(environ, dirs, found=lambda library: os.path.basename(library) in installed,
                          nvidia_gpus=gpus)


@pytest.fixture
def both(tmp_path):
  """An NVIDIA machine: NVIDIA's and Mesa's vendor files in /usr/share/glvnd/egl_vendor.d."""
  return [str(tmp_path / 'etc'), vendor_dir(tmp_path / 'share', ('10_nvidia.json', NVIDIA),
                                            ('50_mesa.json', MESA))]


def test_mesa_only_is_preloaded(tmp_path):
  dirs = [vendor_dir(tmp_path / 'share', ('50_mesa.json', MESA))]
  decision = decide(dirs)
  assert decision.preload and decision.renderer == 'mesa'
  assert decision.reason == f'Mesa renders (vendors: {dirs[0]}/50_mesa.json; NVIDIA GPUs: 1)'


def test_nvidia_renders_without_the_preload(both):
  decision = decide(both, gpus=2)
  assert (decision.preload, decision.renderer) == (False, 'nvidia')
  assert decision.reason.startswith('NVIDIA renders') and 'NVIDIA GPUs: 2' in decision.reason


@pytest.mark.parametrize('installed, gpus', [((MESA,), 1), ((NVIDIA, MESA), 0)])
def test_nvidia_without_its_library_or_a_gpu_leaves_mesa(both, installed, gpus):
  # A vendor file without its library (a container without the driver's graphics libraries), or the
  # library without a GPU: libglvnd skips it, or it has no device, and Mesa's device comes first.
  assert decide(both, installed=installed, gpus=gpus)[:2] == (True, 'mesa')


def test_a_device_past_the_nvidia_gpus_is_mesas(both):
  assert decide(both, dict(EGL, MUJOCO_EGL_DEVICE_ID='1'), gpus=2)[:2] == (False, 'nvidia')
  assert decide(both, dict(EGL, MUJOCO_EGL_DEVICE_ID='2'), gpus=2)[:2] == (True, 'mesa')


def test_the_user_forces_mesa_with_libglvnds_filenames(both):
  environ = dict(EGL, __EGL_VENDOR_LIBRARY_FILENAMES=os.path.join(both[1], '50_mesa.json'))
  assert decide(both, environ)[:2] == (True, 'mesa')
  environ['__EGL_VENDOR_LIBRARY_FILENAMES'] = ':'.join(
      os.path.join(both[1], name) for name in ('50_mesa.json', '10_nvidia.json'))
  assert decide(both, environ)[:2] == (True, 'mesa')  # listed first: its devices come first


def test_vendor_dirs_env_replaces_the_defaults(both, tmp_path):
  mesa = vendor_dir(tmp_path / 'mesa_only', ('50_mesa.json', MESA))
  assert decide(both, dict(EGL, __EGL_VENDOR_LIBRARY_DIRS=mesa))[:2] == (True, 'mesa')
  assert decide([mesa], dict(EGL, __EGL_VENDOR_LIBRARY_DIRS=both[1]))[:2] == (False, 'nvidia')


def test_directory_order_before_name_order(tmp_path):
  # /etc's files come before /usr/share's, whatever their names.
  dirs = [vendor_dir(tmp_path / 'etc', ('90_mesa.json', MESA)),
          vendor_dir(tmp_path / 'share', ('10_nvidia.json', NVIDIA))]
  assert rendering.vendor_files(EGL, dirs) == [dirs[0] + '/90_mesa.json', dirs[1] + '/10_nvidia.json']
  assert decide(dirs)[:2] == (True, 'mesa')
  dirs.reverse()
  assert decide(dirs)[:2] == (False, 'nvidia')


def test_unreadable_or_newer_files_are_skipped_as_libglvnd_does(tmp_path):
  share = tmp_path / 'share'
  vendor_dir(share, ('10_nvidia.json', NVIDIA), version='1.1.0')  # a format libglvnd 1.0 refuses
  vendor_dir(share, ('20_broken.json', NVIDIA))
  (share / '20_broken.json').write_text('{"ICD": ')
  vendor_dir(share, ('30_nvidia.txt', NVIDIA), ('50_mesa.json', MESA))  # not *.json
  vendor = rendering.vendors(rendering.vendor_files(EGL, [str(share)]), lambda library: True)
  assert vendor == [rendering.Vendor('mesa', MESA, str(share / '50_mesa.json'))]
  assert decide([str(share)])[:2] == (True, 'mesa')


def test_a_relative_library_path_is_relative_to_its_file(tmp_path):
  share = vendor_dir(tmp_path / 'share', ('10_nvidia.json', './lib/libEGL_nvidia.so.0'))
  (tmp_path / 'share' / 'lib').mkdir()
  (tmp_path / 'share' / 'lib' / NVIDIA).write_bytes(b'')
  vendor, = rendering.vendors(rendering.vendor_files(EGL, [share]), os.path.exists)
  assert vendor == rendering.Vendor('nvidia', f'{share}/./lib/libEGL_nvidia.so.0', f'{share}/10_nvidia.json')
  (tmp_path / 'share' / 'lib' / NVIDIA).unlink()
  assert rendering.vendors(rendering.vendor_files(EGL, [share]), os.path.exists) == []


def test_no_vendor_files_or_other_backends(tmp_path):
  empty = [str(tmp_path / 'none')]
  assert decide(empty)[:2] == (True, 'mesa')  # a libEGL without libglvnd: as before, preload
  assert decide(empty, {'MUJOCO_GL': 'osmesa'})[:2] == (True, 'mesa')
  assert decide(empty, {'MUJOCO_GL': 'glfw'})[:2] == (False, None)
  other = [vendor_dir(tmp_path / 'share', ('10_other.json', 'libEGL_other.so.0'))]
  assert decide(other, installed=('libEGL_other.so.0',))[:2] == (False, None)


def test_this_machine_renders_next_to_tensorflow():
  import tensorflow as tf
  from planet.control import wrappers
  tf.zeros([1]).numpy()
  env = wrappers.DeepMindEnv('cartpole', 'swingup', seed=0)
  env.reset()
  assert env.render().std() > 0
  env.close()
  decision = rendering.decision()
  assert decision == rendering.decide(os.environ)
  assert bool(rendering.preloaded()) == decision.preload == (decision.renderer == 'mesa')


def test_library_found_as_the_linker_looks(tmp_path, monkeypatch):
  (tmp_path / 'libEGL_fake.so.0').write_bytes(b'')
  assert rendering._library_found(str(tmp_path / 'libEGL_fake.so.0'))
  assert not rendering._library_found('libEGL_fake.so.0')
  monkeypatch.setenv('LD_LIBRARY_PATH', str(tmp_path))
  assert rendering._library_found('libEGL_fake.so.0')
  assert rendering._library_found('libc.so.6')  # in the linker's directories
