"""scripts/gpu_check.py: the no-GPU path, its placement and verdict rules, and its rendering check."""

import collections
import os
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, 'scripts'))
import gpu_check  # noqa: E402


def test_no_gpu_is_one_line_and_exit_1(monkeypatch, capsys):
  import tensorflow as tf
  monkeypatch.setattr(tf.config, 'list_physical_devices', lambda kind=None: [])
  monkeypatch.setattr(sys, 'argv', ['gpu_check.py'])
  built = []
  monkeypatch.setattr(gpu_check, 'figures_to_measure', lambda *args: built.append(args))
  assert gpu_check.main() == 1
  out = capsys.readouterr().out
  assert out.count('\n') == 1 and out.startswith(f'no GPU: TensorFlow {tf.__version__} sees none (')
  assert out.endswith('); nothing to check.\n') and not built


def test_no_gpu_reasons():
  import tensorflow as tf
  reason = gpu_check.no_gpu_reason(tf, {'CUDA_VISIBLE_DEVICES': '-1'})
  assert reason == "CUDA_VISIBLE_DEVICES='-1' hides them"
  if not os.path.exists('/proc/driver/nvidia/version') and not os.path.exists('/dev/dxg'):
    assert gpu_check.no_gpu_reason(tf, {}) == (
        'no NVIDIA driver is loaded: /proc/driver/nvidia/version is missing')


@pytest.mark.slow
def test_no_gpu_command():
  env = dict(os.environ, CUDA_VISIBLE_DEVICES='-1')  # no GPU, on any machine
  result = subprocess.run([sys.executable, 'scripts/gpu_check.py'], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)
  assert result.returncode == 1
  assert result.stdout == ("no GPU: TensorFlow 2.21.0 sees none (CUDA_VISIBLE_DEVICES='-1' hides "
                           'them); nothing to check.\n')


def test_placement_summary():
  ops = collections.Counter({('GPU', 'MatMul'): 30, ('GPU', 'Conv2D'): 4, ('CPU', 'Shape'): 2,
                             ('CPU', '_Arg'): 3})
  assert gpu_check.placement_summary(ops) == (True, '34 ops on GPU, 5 ops on CPU')
  ops['CPU', 'Conv2DBackpropFilter'] += 1
  ops['CPU', 'BatchMatMulV2'] += 2
  assert gpu_check.placement_summary(ops) == (
      False, '34 ops on GPU, 8 ops on CPU; on the CPU: BatchMatMulV2, Conv2DBackpropFilter')
  assert gpu_check.placement_summary(collections.Counter({('CPU', 'MatMul'): 1}))[0] is False
  assert gpu_check.placement_summary(collections.Counter()) == (None, 'no placement log read')


TIMED = {('train', 32, False): 0.3, ('train', 32, True): 0.2, ('train', 16, False): 0.15,
         ('train', 16, True): 0.1, ('plan', 32, False): 0.05, ('plan', 32, True): 0.04,
         ('plan', 16, False): 0.06, ('plan', 16, True): 0.05}
RENDER = {'egl': {'VENDOR': 'NVIDIA', 'VERSION': '1.5'},
          'gl': {'VENDOR': 'NVIDIA Corporation', 'RENDERER': 'NVIDIA A100-SXM4-40GB/PCIe/SSE2'},
          'image_std': 40.0, 'ms_per_frame': 1.25}


def placements(train=True, plan=True):
  return {('train', 32, False): (train, 'x'), ('plan', 32, False): (plan, '9 ops on CPU; on the CPU: MatMul')}


def test_verdict_ready():
  line, ready = gpu_check.verdict('A100', (50, 50), placements(), TIMED, RENDER)
  assert ready and line == (
      'ready: GPU A100: train step [50, 50] 0.100 s with precision: 16, jit_compile: True (3.00x of '
      '0.300 s at 32), plan 0.040 s with precision: 32, jit_compile: True (1.25x of 0.050 s at 32); '
      'frames by NVIDIA (NVIDIA A100-SXM4-40GB/PCIe/SSE2, 1.2 ms)')


def test_verdict_names_what_is_wrong():
  line, ready = gpu_check.verdict('A100', (50, 50), placements(plan=False), TIMED, {'error': 'signal 11'})
  assert not ready and line.startswith(
      'not ready: the planner does not run on the GPU (9 ops on CPU; on the CPU: MatMul); rendering '
      'failed (signal 11); if Mesa renders, __EGL_VENDOR_LIBRARY_FILENAMES=')
  mesa = dict(RENDER, egl={'VENDOR': 'Mesa Project', 'VERSION': '1.5'},
              gl={'VENDOR': 'Mesa/X.org', 'RENDERER': 'llvmpipe (LLVM 15.0.6, 256 bits)'})
  line, ready = gpu_check.verdict(None, (5, 10), placements(False, False), TIMED, mesa)
  assert not ready and line.startswith('not ready: no GPU (--cpu). Measured: train step [5, 10]')
  assert line.endswith('; frames by Mesa (llvmpipe (LLVM 15.0.6, 256 bits), 1.2 ms)')


@pytest.mark.slow
def test_render_check_next_to_tensorflow():
  from planet.control import rendering
  render = gpu_check.render_check()
  assert render['image_std'] > 0 and render['mujoco_gl'] == 'egl'
  kind = gpu_check.renderer_kind(render)
  decision = rendering.decide(dict(os.environ, MUJOCO_GL='egl'))
  assert render['decision'] == decision._asdict()
  assert kind == {'mesa': 'Mesa', 'nvidia': 'NVIDIA'}[decision.renderer]
  assert bool(render['preloaded']) == decision.preload
