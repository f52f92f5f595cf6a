"""Measures the costs that decide how fast PlaNet runs on this machine, all in one run.

  python3 scripts/benchmark.py [--repeats 3] [--precisions 32,16] [--xla] [--skip-full] [--skip-plan]
                               [--input-pipeline] [--no-onednn-compare] [--skip-env] [--json FILE]

Prints the CPU model (lscpu), then, measured together (see "Timing"):

* the float32 and bfloat16 matmul peaks of this CPU (2048 x 2048 x 2048),
* seconds per update of the trainer's own train step (planet/training/learner.py `Learner.train`, built by
  planet/scripts/build.py, gradient clipping and Adam included) at batch [50, 50] and [8, 32],
* seconds per planned action at the default planner size (1000 candidates x 12 steps x 10 iterations,
  3 x 300 reward head), through the agent's compiled policy,

for each precision (`precision` param: 32, and 16 where this machine has bfloat16 or GPU hardware) and,
with --xla, with `jit_compile` on as well. Every figure comes with its GFLOP count, GFLOP/s and its share
of the float32 peak (and of the bfloat16 peak) measured in the same run.

Then, unless skipped: the [8, 32] step with oneDNN off (a subprocess, for the ratio), the time the trainer
waits for the next batch (--input-pipeline: real episodes on disk, the `recent` loader, at [50, 50] and at
the CPU preset's shape, [10, 50]), environment frames per second (64x64 EGL rendering plus physics) and the
episode loops (python vs in-graph).

Timing. The machine may be shared, so each figure is the minimum over `--repeats` rounds, the rounds
interleave all figures, and the matmul peaks are measured inside every round: a figure and the peak it is
compared with see the same conditions. Compare figures of one run only.

FLOPs are counted analytically for the default architecture (multiply-adds count 2), per example:
  encoder   sum over the 4 convs of 2 * out_h * out_w * k * k * c_in * c_out   (64->31->14->6->2, k 4)
  decoder   2 * F * 1024 + sum over the 4 deconvs of 2 * in_h * in_w * k * k * c_in * c_out
            (1->5->13->30->64, k 5, 5, 6, 6), F = state + belief features
  prior     2 * ((S + A) * H + (H + D) * 2D + (H + D) * D + D * H + 2 * H * S)   (one RSSM step)
  posterior prior + 2 * ((D + E) * H + 2 * H * S)
  head      2 * (F * U + (L - 1) * U * U + U)   (L layers of U units, one output)
  train step = 3 * B * T * (encoder + posterior + decoder + head) - B * T * (first conv): the backward
            pass costs twice the forward (input and weight gradients), except the first conv (no input
            gradient).
  plan      = iterations * amount * horizon * (prior + head), plus one filtering step (negligible).
At the defaults: ~589 GFLOP per [50, 50] train step and ~132 GFLOP per plan.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from planet.tools import quiet_start  # importing planet sets TF_ENABLE_ONEDNN_OPTS unless the caller did

ACTION_SIZE = 6  # cheetah_run's


# FLOP counts (see the module docstring).

def encoder_flops():
  convs = ((31, 3, 32), (14, 32, 64), (6, 64, 128), (2, 128, 256))
  return [2 * out * out * 4 * 4 * c_in * c_out for out, c_in, c_out in convs]


def decoder_flops(features):
  deconvs = ((1, 5, 1024, 128), (5, 5, 128, 64), (13, 6, 64, 32), (30, 6, 32, 3))
  return 2 * features * 1024 + sum(2 * i * i * k * k * c_in * c_out for i, k, c_in, c_out in deconvs)


def prior_flops(p, actions=ACTION_SIZE):
  s, d = p['state_size'], p['model_size']
  h = d
  return 2 * ((s + actions) * h + (h + d) * 2 * d + (h + d) * d + d * h + 2 * h * s)


def posterior_flops(p, embedding=1024):
  s, d = p['state_size'], p['model_size']
  return prior_flops(p) + 2 * ((d + embedding) * d + 2 * d * s)


def head_flops(p):
  features = p['state_size'] + p['model_size']
  units, layers = p['num_units'], p['num_layers']
  return 2 * (features * units + (layers - 1) * units * units + units)


def train_flops(p):
  batch, length = p['batch_shape']
  encoder = encoder_flops()
  forward = (sum(encoder) + posterior_flops(p) + decoder_flops(p['state_size'] + p['model_size'])
             + head_flops(p))
  return batch * length * (3 * forward - encoder[0])


def plan_flops(p):
  return (p['planner_iterations'] * p['planner_amount'] * p['planner_horizon']
          * (prior_flops(p) + head_flops(p)) + sum(encoder_flops()) + posterior_flops(p))


# What is measured.

def cpu_model():
  try:
    for line in subprocess.run(['lscpu'], capture_output=True, text=True).stdout.splitlines():
      if line.startswith('Model name:'):
        return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return 'unknown'


def params_for(overrides, config='default'):
  from planet.scripts import configs
  return configs.resolve(overrides, config)


def train_step(shape, precision=32, xla=False, config='default'):
  """The trainer's update (Learner.train) at `shape` on random data: (callable, GFLOP). `config` names
  the architecture (scripts/gpu_check.py's --quick uses `debug`)."""
  import tensorflow as tf
  from planet.scripts import build
  batch, length = shape
  params = params_for({'batch_shape': list(shape), 'train_steps': batch, 'test_steps': batch,
                       'precision': precision, 'jit_compile': xla}, config)
  learner = build.learner(params, build.model(params, action_size=ACTION_SIZE))
  data = {'image': tf.random.uniform([batch, length, 64, 64, 3]) - 0.5,
          'action': tf.random.uniform([batch, length, ACTION_SIZE], -1, 1),
          'reward': tf.random.uniform([batch, length])}
  learner.compile({k: tf.TensorSpec(v.shape, v.dtype) for k, v in data.items()})
  return (lambda: learner.train(data)['loss'].numpy()), train_flops(params) / 1e9


def plan(precision=32, xla=False, config='default'):
  """One action of the `config` agent (filter one image, CEM, noise): (callable, GFLOP)."""
  from planet.scripts import build
  params = params_for({'precision': precision, 'jit_compile': xla}, config)
  agent = build.agent(params, build.model(params, action_size=ACTION_SIZE))
  observation = {'image': np.zeros([1, 64, 64, 3], np.uint8)}
  return (lambda: agent.policy(observation, np.float32(0.0)).numpy()), plan_flops(params) / 1e9


def matmul(dtype, size=2048):
  import tensorflow as tf
  a = tf.cast(tf.random.normal([size, size]), dtype)
  function = tf.function(lambda x: tf.reduce_sum(tf.cast(tf.matmul(x, x), tf.float32)))
  return (lambda: function(a).numpy()), 2 * size ** 3 / 1e9


def measure(figures, peaks, repeats):
  """Minimum seconds of every callable in `figures` and `peaks` ({name: (callable, GFLOP)}) over
  `repeats` rounds; each round runs every figure once, each after the peaks (3 calls each)."""
  for fn, _ in list(figures.values()) + list(peaks.values()):
    fn()  # trace and warm up
    fn()
  best = {name: float('inf') for name in list(figures) + list(peaks)}
  for _ in range(repeats):
    for name, (fn, _) in figures.items():
      for peak, (peak_fn, _) in peaks.items():
        for _ in range(3):
          best[peak] = min(best[peak], _seconds(peak_fn))
      best[name] = min(best[name], _seconds(fn))
      print(f'  ... {name}: {best[name]:.3f} s so far', flush=True)
  return best


def _seconds(fn):
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def cpu_preset():
  """(batch_shape, loader_every) of configs/cpu_quick.yaml."""
  from planet.scripts import configs
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'configs', 'cpu_quick.yaml')
  params = configs.resolve({}, path)
  return tuple(params['batch_shape']), params['loader_every']


def input_wait(shape, loader_every, steps=12, episodes=20):
  """Seconds the trainer waits for each batch of the real pipeline (planet/tools/dataset.py, `recent`
  loader, dummy-task episodes of 126 frames on disk) between its train steps: (mean wait, max wait,
  mean step)."""
  from planet.control import simulate
  from planet.scripts import build
  batch = shape[0]
  params = params_for({'tasks': ['dummy'], 'action_repeat': 8, 'batch_shape': list(shape),
                       'train_steps': batch, 'test_steps': batch, 'loader': 'recent',
                       'loader_every': loader_every})
  directory = tempfile.mkdtemp(prefix='benchmark-episodes-')
  simulate.random_episodes(build.task('dummy', params), directory, episodes, seed=0)
  return wait_per_step(params, directory, 1, steps)


def wait_per_step(params, directory, action_size, steps=12, after_step=None):
  """(mean wait, max wait, mean step) in seconds: how long `next(iterator)` of the trainer's data set
  over `directory` (built by planet/scripts/build.py) blocks before each of `steps` train steps of the
  params' model. `after_step(index)`, if given, runs after each step (to write new episode files, as
  collection does). The first 2 batches (pipeline start-up, tracing) are left out."""
  from planet.scripts import build
  iterator = iter(build.dataset(params, directory, seed=0))
  learner = build.learner(params, build.model(params, action_size=action_size))
  learner.compile(iterator.element_spec)
  waits, seconds = [], []
  for index in range(steps + 2):
    start = time.perf_counter()
    data = next(iterator)
    waits.append(time.perf_counter() - start)
    start = time.perf_counter()
    learner.train(data)['loss'].numpy()
    seconds.append(time.perf_counter() - start)
    if after_step:
      after_step(index)
  del iterator
  waits, seconds = waits[2:], seconds[2:]
  return float(np.mean(waits)), float(np.max(waits)), float(np.mean(seconds))


def env_fps(task_name, steps=300, default_buffer=False):
  """Decisions per second of a task's full wrapper stack: one rendered 64x64 frame each, plus
  action_repeat physics steps. `default_buffer` renders into dm_control's 640x480 offscreen buffer, as
  before we shrank it to 64x64 (the same pixels)."""
  from planet.scripts import build
  from planet.scripts import configs
  task = build.task(task_name, configs.resolve({'tasks': [task_name]}))
  env = task.env_ctor(seed=0)
  if default_buffer:
    buffer = env.unwrapped._env.physics.model.vis.global_
    buffer.offwidth, buffer.offheight = 640, 480
  env.reset()
  action = np.zeros(env.action_space.shape, np.float32)
  def step():
    if any(env.step(action)[2:4]):
      env.reset()

  for _ in range(10):  # the first frames set up the GL context
    step()
  start = time.perf_counter()
  for _ in range(steps):
    step()
  seconds = time.perf_counter() - start
  env.close()
  return steps / seconds


def episode_step_ms(in_graph, planner):
  """Milliseconds per decision of a dummy-task episode with the python loop or the in-graph loop, at the
  debug planner size (125 decisions) or the default one (25 decisions, to keep it short)."""
  from planet.control import simulate
  from planet.scripts import build
  from planet.scripts import configs
  overrides = {'tasks': ['dummy'], 'action_repeat': 8 if planner == 'debug' else 40}
  if planner != 'debug':
    overrides['batch_shape'] = [50, 20]  # chunks must fit the 26-frame episodes
  params = configs.resolve(overrides, 'debug' if planner == 'debug' else 'default')
  task = build.task('dummy', params)
  agent = build.agent(params, build.model(params, action_size=1))
  simulation = simulate.Simulation(task, agent, tempfile.mkdtemp(), 0, 1, 'none', in_graph)
  simulation.run(0.3)  # trace
  best = min(simulation.run(0.3)['seconds'] for _ in range(2))
  simulation.close()
  return 1000 * best / task.max_length


class Results(dict):
  """Prints each measurement as soon as it is made."""

  def __setitem__(self, key, value):
    super().__setitem__(key, value)
    text = f'{value:.3f}' if isinstance(value, float) else str(value)
    print(f'{key:<52}  {text}', flush=True)


def main():
  quiet_start.install()
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--precisions', default=None,
                      help='comma-separated precision params to measure (default: 32, and 16 where '
                           'this machine supports it)')
  parser.add_argument('--xla', action='store_true', help='also measure with jit_compile: True')
  parser.add_argument('--skip-full', action='store_true', help='skip the slow [50, 50] step')
  parser.add_argument('--skip-plan', action='store_true')
  parser.add_argument('--input-pipeline', action='store_true',
                      help='measure the wait for the next batch at [50, 50] and at configs/cpu_quick.yaml\'s shape')
  parser.add_argument('--no-onednn-compare', action='store_true')
  parser.add_argument('--skip-env', action='store_true', help='skip the env and episode-loop rates')
  parser.add_argument('--json', help='write every figure to this JSON file')
  parser.add_argument('--only-step', help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.only_step:  # The subprocess that measures one step with the caller's environment.
    fn, _ = train_step(json.loads(args.only_step))
    print(json.dumps(measure({'step': (fn, 0)}, {}, args.repeats)['step']))
    return
  import tensorflow as tf
  from planet.errors import ConfigError
  from planet.tools import precision as precision_lib
  results = Results()
  results['cpu_model'] = cpu_model()
  results['cpu_bf16_flags'] = ' '.join(
      sorted(set(precision_lib.BF16_CPU_FLAGS) & precision_lib.cpu_flags())) or 'none'
  results['gpus'] = ' '.join(precision_lib.gpus()) or 'none'
  results['tensorflow'] = tf.__version__
  results['TF_ENABLE_ONEDNN_OPTS'] = os.environ.get('TF_ENABLE_ONEDNN_OPTS')
  if args.precisions:
    precisions = [int(x) for x in args.precisions.split(',')]
  else:
    precisions = [32]
    try:
      precision_lib.compute_dtype(16)
      precisions.append(16)
    except ConfigError as e:
      print(f'precision 16 not measured: {e}')
  figures = {}
  for precision in precisions:
    for xla in ([False, True] if args.xla else [False]):
      suffix = f'_p{precision}' + ('_xla' if xla else '')
      if not args.skip_full:
        figures['train_50x50' + suffix] = train_step((50, 50), precision, xla)
      figures['train_8x32' + suffix] = train_step((8, 32), precision, xla)
      if not args.skip_plan:
        figures['plan_1000x12x10' + suffix] = plan(precision, xla)
  peaks = {'matmul_peak_float32': matmul('float32'), 'matmul_peak_bfloat16': matmul('bfloat16')}
  print(f'Measuring {len(figures)} figures, {args.repeats} interleaved rounds ...', flush=True)
  seconds = measure(figures, peaks, args.repeats)
  peak = {name: peaks[name][1] / seconds[name] for name in peaks}
  table = {}
  for name in peaks:
    results[f'{name}_gflops'] = peak[name]
  print(f'\n{"figure":<28}{"seconds":>9}{"GFLOP":>8}{"GFLOP/s":>9}{"% f32 peak":>12}'
        f'{"% bf16 peak":>13}')
  for name, (_, gflop) in figures.items():
    rate = gflop / seconds[name]
    table[name] = {'seconds': seconds[name], 'gflop': gflop, 'gflops': rate,
                   'share_of_float32_peak': rate / peak['matmul_peak_float32'],
                   'share_of_bfloat16_peak': rate / peak['matmul_peak_bfloat16']}
    row = table[name]
    print(f'{name:<28}{row["seconds"]:>9.3f}{gflop:>8.1f}{rate:>9.1f}'
          f'{100 * row["share_of_float32_peak"]:>11.0f}%{100 * row["share_of_bfloat16_peak"]:>12.0f}%')
  for name in figures:  # Speed-ups of the variants over float32 without XLA.
    base = name.split('_p')[0] + '_p32'
    if name != base and base in seconds:
      results[f'speedup_{name}_vs_p32'] = seconds[base] / seconds[name]
  if not args.no_onednn_compare:
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS='0')
    out = subprocess.run(
        [sys.executable, __file__, '--only-step', '[8, 32]', '--repeats', str(args.repeats)],
        env=env, capture_output=True, text=True, check=True).stdout
    results['train_8x32_onednn_off_s'] = json.loads(out.strip().splitlines()[-1])
    if 'train_8x32_p32' in seconds:
      results['onednn_speedup_8x32'] = results['train_8x32_onednn_off_s'] / seconds['train_8x32_p32']
  if args.input_pipeline:
    for shape, every in (((50, 50), 1000), cpu_preset()):  # the default, configs/cpu_quick.yaml
      wait, longest, step = input_wait(shape, every)
      name = f'{shape[0]}x{shape[1]}'
      results[f'input_wait_{name}_mean_s'] = wait
      results[f'input_wait_{name}_max_s'] = longest
      results[f'input_wait_{name}_train_step_s'] = step
      results[f'input_wait_{name}_share_of_step'] = wait / step
  if not args.skip_env:
    for name in ('cartpole_swingup', 'cheetah_run'):
      results[f'env_decisions_per_s_{name}_buffer_640x480'] = env_fps(name, default_buffer=True)
      results[f'env_decisions_per_s_{name}'] = env_fps(name)
    for planner in ('debug', 'default'):
      python = episode_step_ms(False, planner)
      graph = episode_step_ms(True, planner)
      results[f'episode_ms_per_step_python_loop_{planner}_planner'] = python
      results[f'episode_ms_per_step_in_graph_{planner}_planner'] = graph
      results[f'in_graph_speedup_{planner}_planner'] = python / graph
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'figures': table, **results}, f, indent=1)
    print(f'Wrote {args.json}.')


if __name__ == '__main__':
  main()
