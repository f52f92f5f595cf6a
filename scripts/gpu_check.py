"""What to run first on a machine with a GPU: does PlaNet train and plan on it, how fast, and who renders.

  python3 scripts/gpu_check.py [--repeats 3] [--quick]

In one run it prints:

* the GPU TensorFlow sees (name, compute capability), TensorFlow's CUDA and cuDNN, the NVIDIA driver;
* where the train step (the trainer's Learner.train at batch [50, 50]) and one plan (the default agent's
  policy: 1000 x 12 x 10 CEM) run, from TensorFlow's placement log of their first call: how many ops each
  device got, and any matmul or convolution left on the CPU; and the GPU memory each needed at most;
* seconds of each at `precision` 32 and 16, without and with `jit_compile`, with GFLOP/s and the share
  of the same run's matmul peak of their compute dtype (float32 or float16, 8192^3), measured as
  scripts/benchmark.py does (minimum over interleaved rounds, the peaks inside every round). On
  Ampere and newer GPUs TensorFlow runs float32 matmuls and convolutions in TensorFloat-32 by default,
  the figures and the float32 peak alike (the table says so);
* a 64x64 frame of cartpole_swingup rendered the way training renders it, in a process that has put
  TensorFlow on the GPU first: the EGL vendor of dm_control's display (NVIDIA or Mesa), OpenGL's vendor
  and renderer, whether Mesa's driver was preloaded and why (planet/control/rendering.py), ms per frame;
* a verdict line: `ready: ...` with the fastest settings, or `not ready: ...` naming what is wrong.

Without a GPU it prints one line and exits 1. Exit 0 means ready. `--quick` measures the debug
config's sizes (seconds, to try the script); `--cpu` runs every check on a machine without a GPU (to
test the script; its verdict is then `not ready`).
"""

import argparse
import collections
import ctypes
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import benchmark  # scripts/benchmark.py: the train step, the plan, their FLOPs and the timing rounds
from planet.tools import quiet_start

# A line of TensorFlow's placement log: "name: (type): /job:localhost/replica:0/task:0/device:GPU:0".
_PLACED = re.compile(r'^\S.*: \((?P<type>[^)]+)\): /job:\S*device:(?P<device>[A-Z_]+):\d+$')
_HEAVY = ('MatMul', 'BatchMatMul', 'Conv2D', 'Conv3D', 'DepthwiseConv')  # op types that belong on the GPU
RENDER_TASK = 'cartpole_swingup'


def no_gpu_reason(tf, environ=os.environ):
  """Why TensorFlow sees no GPU, as far as this machine tells."""
  visible = environ.get('CUDA_VISIBLE_DEVICES')
  if visible is not None and visible.strip() in ('', '-1'):
    return f'CUDA_VISIBLE_DEVICES={visible!r} hides them'
  if not os.path.exists('/proc/driver/nvidia/version') and not os.path.exists('/dev/dxg'):
    return 'no NVIDIA driver is loaded: /proc/driver/nvidia/version is missing'
  if not tf.test.is_built_with_cuda():
    return 'this TensorFlow is built without CUDA'
  return ("the NVIDIA driver is loaded but TensorFlow found no usable GPU: install its CUDA libraries "
          "with pip install -e '.[gpu]'; TF_CPP_MIN_LOG_LEVEL=0 shows TensorFlow's reason")


def gpu_name(tf, device):
  details = tf.config.experimental.get_device_details(device)
  capability = details.get('compute_capability')
  name = details.get('device_name', device.name)
  return f'{name} (compute capability {capability[0]}.{capability[1]})' if capability else name


def driver_version():
  try:
    with open('/proc/driver/nvidia/version') as f:
      return ' '.join(f.readline().split())
  except OSError:
    return 'unknown'


class PlacementLog:
  """Where TensorFlow placed each op. TensorFlow prints it (`set_log_device_placement`) to the C stdout
  when a function first runs, if asked before its runtime starts: the setting is read once, and holds
  for the rest of the process. So this asks at the start, sends the C stdout to a file for the rest of
  the run and Python's output to the real stdout, and reads the file after each figure's first call."""

  def __init__(self):
    import tensorflow as tf
    tf.debugging.set_log_device_placement(True)
    sys.stdout.flush()
    self._file = tempfile.TemporaryFile()
    terminal = os.dup(1)
    os.dup2(self._file.fileno(), 1)
    sys.stdout = os.fdopen(terminal, 'w', buffering=1)
    self._offset = 0

  def read(self):
    """Counter of (device, op type) of the ops placed since the last read."""
    ctypes.CDLL(None).fflush(None)
    self._file.seek(self._offset)
    text = self._file.read()
    self._offset += len(text)
    ops = collections.Counter()
    for line in text.decode(errors='replace').splitlines():
      match = _PLACED.match(line)
      if match:
        ops[match.group('device'), match.group('type')] += 1
      else:
        print(line)  # Not a placement line: someone else's output.
    return ops


def placement_summary(ops):
  """(on_gpu, text): whether the ops ran on the GPU (some did, no matmul or convolution on the CPU)."""
  if not ops:
    return None, 'no placement log read'
  devices = collections.Counter()
  for (device, _), count in ops.items():
    devices[device] += count
  heavy_on_cpu = sorted({kind for (device, kind) in ops if device == 'CPU' and kind.startswith(_HEAVY)})
  text = ', '.join(f'{count} ops on {device}' for device, count in devices.most_common())
  if heavy_on_cpu:
    text += '; on the CPU: ' + ', '.join(heavy_on_cpu)
  return devices['GPU'] > 0 and not heavy_on_cpu, text


def memory_peak_mb(tf, reset=False):
  try:
    if reset:
      tf.config.experimental.reset_memory_stats('GPU:0')
      return None
    return tf.config.experimental.get_memory_info('GPU:0')['peak'] / 2 ** 20
  except (ValueError, RuntimeError):  # No GPU (--cpu).
    return None


def render_check(timeout=600):
  """Runs `--render-child` in a subprocess (a crash in the GL driver must not take the check with it)."""
  result = subprocess.run([sys.executable, os.path.abspath(__file__), '--render-child'],
                          capture_output=True, text=True, timeout=timeout)
  lines = result.stdout.strip().splitlines()
  if result.returncode == 0 and lines:
    return json.loads(lines[-1])
  if result.returncode < 0:
    error = f'the rendering process died of signal {-result.returncode}'
  else:
    error = (result.stderr.strip().splitlines() or ['no output'])[-1]
  return {'error': error}


def render_child():
  """Renders cartpole_swingup's first frame in a process that has put TensorFlow on the GPU, and
  prints one JSON line: who rendered it, and ms per frame."""
  import tensorflow as tf
  from planet.control import rendering
  from planet.scripts import build
  from planet.scripts import configs
  tf.reduce_sum(tf.ones([8])).numpy()  # TensorFlow's libraries and its GPU context first, as in training
  env = build.task(RENDER_TASK, configs.resolve({'tasks': [RENDER_TASK]})).env_ctor(seed=0)
  image = env.reset()[0]['image']
  physics = env.unwrapped._env.physics
  from OpenGL import GL
  with physics.contexts.gl.make_current() as context:
    gl = {name: context.call(GL.glGetString, getattr(GL, 'GL_' + name)).decode()
          for name in ('VENDOR', 'RENDERER', 'VERSION')}
  egl = {}
  if os.environ.get('MUJOCO_GL') == 'egl':
    from dm_control._render.pyopengl import egl_renderer
    egl = {name: egl_renderer.EGL.eglQueryString(
        egl_renderer.EGL_DISPLAY, getattr(egl_renderer.EGL, 'EGL_' + name)).decode()
           for name in ('VENDOR', 'VERSION')}
  seconds = []
  for _ in range(30):
    start = time.perf_counter()
    env.render()
    seconds.append(time.perf_counter() - start)
  env.close()
  decision = rendering.decision()
  print(json.dumps({
      'mujoco_gl': os.environ.get('MUJOCO_GL'), 'egl': egl, 'gl': gl,
      'image_std': float(image.std()), 'ms_per_frame': 1000 * min(seconds),
      'decision': decision._asdict(), 'preloaded': rendering.preloaded()}))


def renderer_kind(render):
  text = ' '.join(list(render['egl'].values()) + [render['gl']['VENDOR'], render['gl']['RENDERER']])
  return 'NVIDIA' if 'nvidia' in text.lower() else 'Mesa' if 'mesa' in text.lower() else 'unknown'


def figures_to_measure(precisions, quick):
  """{(what, precision, xla): build()} for the train step and the plan."""
  config = 'debug' if quick else 'default'
  shape = tuple(benchmark.params_for({}, config)['batch_shape'])
  builds = {}
  for precision in precisions:
    for xla in (False, True):
      builds['train', precision, xla] = (
          lambda p=precision, x=xla: benchmark.train_step(shape, p, x, config))
      builds['plan', precision, xla] = lambda p=precision, x=xla: benchmark.plan(p, x, config)
  return shape, builds


def label(key):
  what, precision, xla = key
  return f'{what} p{precision}' + (' jit' if xla else '')


def settings(key):
  return f'precision: {key[1]}, jit_compile: {key[2]}'


def main():
  quiet_start.install()
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=3, help='interleaved timing rounds (default 3)')
  parser.add_argument('--quick', action='store_true', help="the debug config's sizes (to try the script)")
  parser.add_argument('--cpu', action='store_true',
                      help='run every check without a GPU (to test this script); the verdict says so')
  parser.add_argument('--render-child', action='store_true', help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.render_child:
    return render_child()
  import tensorflow as tf
  from planet.errors import ConfigError
  from planet.tools import precision as precision_lib
  gpus = tf.config.list_physical_devices('GPU')
  if not gpus and not args.cpu:
    print(f'no GPU: TensorFlow {tf.__version__} sees none ({no_gpu_reason(tf)}); nothing to check.')
    return 1
  log = PlacementLog()  # Before TensorFlow's runtime starts.
  build_info = tf.sysconfig.get_build_info()
  print(f'{"GPU":<24}{", ".join(gpu_name(tf, gpu) for gpu in gpus) or "none (--cpu)"}')
  print(f'{"TensorFlow":<24}{tf.__version__}, CUDA {build_info.get("cuda_version")}, '
        f'cuDNN {build_info.get("cudnn_version")}')
  print(f'{"NVIDIA driver":<24}{driver_version()}')
  print(f'{"CPU":<24}{benchmark.cpu_model()}', flush=True)

  dtypes = {32: 'float32'}
  for precision in (16,):
    try:
      dtypes[precision] = precision_lib.compute_dtype(precision)
    except ConfigError as e:
      print(f'precision {precision} not measured: {e}')
  shape, builds = figures_to_measure(list(dtypes), args.quick)
  figures, placements, memory = {}, {}, {}
  print(f'\nBuilding {len(builds)} figures (train step at {list(shape)}, one plan) and reading where '
        'they run ...', flush=True)
  log.read()
  for key, build in builds.items():
    memory_peak_mb(tf, reset=True)
    fn, gflop = build()
    fn()
    figures[key] = (fn, gflop)
    placements[key] = placement_summary(log.read())
    memory[key] = memory_peak_mb(tf)
    if placements[key][0] is None and memory[key]:  # No log to read, but it used the GPU's memory.
      placements[key] = (True, placements[key][1])
    used = f'; GPU memory peak {memory[key]:.0f} MB' if memory[key] is not None else ''
    print(f'  {label(key):<20}{placements[key][1]}{used}', flush=True)

  size = 512 if args.quick else 8192 if gpus else 2048
  peaks = {dtype: benchmark.matmul(dtype, size) for dtype in sorted(set(dtypes.values()))}
  print(f'\nTiming {len(figures)} figures, {args.repeats} interleaved rounds, with the {size}^3 matmul '
        f'peaks of {", ".join(peaks)} ...', flush=True)
  seconds = benchmark.measure({label(k): v for k, v in figures.items()},
                              {f'peak {d}': v for d, v in peaks.items()}, args.repeats)
  peak = {dtype: gflop / seconds[f'peak {dtype}'] for dtype, (_, gflop) in peaks.items()}
  tf32 = ' (TensorFloat-32 on)' if gpus and tf.config.experimental.tensor_float_32_execution_enabled() else ''
  print('\n' + '  '.join(f'{dtype} matmul peak {rate:.0f} GFLOP/s' for dtype, rate in peak.items()) + tf32)
  print(f'{"figure":<20}{"seconds":>9}{"GFLOP":>8}{"GFLOP/s":>9}{"% of peak":>11}{"vs p32":>8}')
  timed = {key: seconds[label(key)] for key in figures}
  for key, (_, gflop) in figures.items():
    rate = gflop / timed[key]
    base = timed[key[0], 32, False]
    print(f'{label(key):<20}{timed[key]:>9.3f}{gflop:>8.1f}{rate:>9.1f}'
          f'{100 * rate / peak[dtypes[key[1]]]:>10.0f}%{base / timed[key]:>7.2f}x')

  print(f'\nRendering {RENDER_TASK} in a process with TensorFlow ...', flush=True)
  render = render_check()
  if 'error' in render:
    print(f'{"rendering":<24}FAILED: {render["error"]}')
  else:
    print(f'{"MUJOCO_GL":<24}{render["mujoco_gl"]}')
    print(f'{"EGL vendor":<24}' + (f'{render["egl"]["VENDOR"]} (EGL {render["egl"]["VERSION"]})'
                                  if render['egl'] else 'not EGL'))
    print(f'{"OpenGL":<24}{render["gl"]["VENDOR"]}, {render["gl"]["RENDERER"]}, {render["gl"]["VERSION"]}')
    decision = render['decision']
    print(f'{"Mesa driver preloaded":<24}' + ('yes' if render['preloaded'] else 'no') +
          f': {decision["reason"]}')
    print(f'{"64x64 frame":<24}{render["ms_per_frame"]:.1f} ms')
  line, ready = verdict(gpu_name(tf, gpus[0]) if gpus else None, shape, placements, timed, render)
  print('\n' + line)
  return 0 if ready else 1


def verdict(gpu, shape, placements, timed, render):
  """The last line, and whether PlaNet is ready to train on this GPU."""
  problems = []
  if not gpu:
    problems.append('no GPU (--cpu)')
  for what, name in (('train', 'the train step'), ('plan', 'the planner')):
    on_gpu, text = placements[what, 32, False]
    if gpu and not on_gpu:
      problems.append(f'{name} does not run on the GPU ({text})')
  if 'error' in render:
    problems.append(f'rendering failed ({render["error"]}); if Mesa renders, '
                    '__EGL_VENDOR_LIBRARY_FILENAMES=/usr/share/glvnd/egl_vendor.d/50_mesa.json picks it')
  elif render['image_std'] == 0:
    problems.append('the rendered frame is blank')
  fastest = {}
  for what in ('train', 'plan'):
    keys = [key for key in timed if key[0] == what]
    best = min(keys, key=timed.get)
    base = timed[what, 32, False]
    fastest[what] = f'{timed[best]:.3f} s with {settings(best)}' + (
        '' if timed[best] == base else f' ({base / timed[best]:.2f}x of {base:.3f} s at 32)')
  speed = f'train step {list(shape)} {fastest["train"]}, plan {fastest["plan"]}'
  frames = '' if 'error' in render else (
      f'frames by {renderer_kind(render)} ({render["gl"]["RENDERER"]}, {render["ms_per_frame"]:.1f} ms)')
  if problems:
    return f'not ready: {"; ".join(problems)}. Measured: {speed}' + (f'; {frames}' if frames else ''), False
  return f'ready: GPU {gpu}: {speed}; {frames}', True


if __name__ == '__main__':
  sys.exit(main())
