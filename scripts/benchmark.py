"""Measures the costs that decide how fast PlaNet runs on this machine, all in one run.

  python3 scripts/benchmark.py [--repeats 3] [--skip-full] [--no-onednn-compare]

Prints: seconds per train step at batch [50, 50] and [8, 32] (tf.function, oneDNN as the package sets
it), the same [8, 32] step with oneDNN off (a subprocess, for the ratio), seconds per planned action at
the default planner size (1000 candidates x 12 steps x 10 iterations), environment frames per second
(64x64 EGL rendering plus physics) for two tasks, and the float32 matmul GFLOP/s of this CPU.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

import planet  # noqa: F401  (sets TF_ENABLE_ONEDNN_OPTS unless the caller did)


def timed(fn, repeats):
  fn()  # trace and warm up
  fn()
  start = time.perf_counter()
  for _ in range(repeats):
    fn()
  return (time.perf_counter() - start) / repeats


def train_step_seconds(shape, repeats):
  """Seconds per update of the trainer's own train step (planet/training/learner.py) on random data."""
  import tensorflow as tf
  from planet.scripts import build
  from planet.scripts import configs
  batch, length = shape
  params = configs.resolve({'batch_shape': list(shape), 'train_steps': batch, 'test_steps': batch})
  model = build.model(params, action_size=6)
  learner = build.learner(params, model)
  data = {'image': tf.random.uniform([batch, length, 64, 64, 3]) - 0.5,
          'action': tf.random.uniform([batch, length, 6], -1, 1),
          'reward': tf.random.uniform([batch, length])}
  learner.compile({k: tf.TensorSpec(v.shape, v.dtype) for k, v in data.items()})
  return timed(lambda: learner.train(data)['loss'].numpy(), repeats)


def plan_seconds(repeats):
  from planet.scripts import build
  from planet.scripts import configs
  params = configs.resolve({})
  agent = build.agent(params, build.model(params, action_size=6))
  image = np.zeros([1, 64, 64, 3], np.uint8)
  return timed(lambda: agent.policy(image, np.float32(0.0)).numpy(), repeats)


def env_fps(task_name, steps=300, default_buffer=False):
  """Decisions per second of a task's full wrapper stack: one rendered 64x64 frame each, plus
  action_repeat physics steps. `default_buffer` renders into dm_control's 640x480 offscreen buffer, as
  before we shrank it to 64x64 (the same pixels)."""
  from planet.scripts import configs
  from planet.scripts import tasks
  task = tasks.task(task_name, configs.resolve({'tasks': [task_name]}))
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
  import tempfile
  from planet.control import simulate
  from planet.scripts import build
  from planet.scripts import configs
  from planet.scripts import tasks
  overrides = {'tasks': ['dummy'], 'action_repeat': 8 if planner == 'debug' else 40}
  if planner != 'debug':
    overrides['batch_shape'] = [50, 20]  # chunks must fit the 26-frame episodes
  params = configs.resolve(overrides, 'debug' if planner == 'debug' else 'default')
  task = tasks.task('dummy', params)
  agent = build.agent(params, build.model(params, action_size=1))
  simulation = simulate.Simulation(task, agent, tempfile.mkdtemp(), 0, 1, 'none', in_graph)
  simulation.run(0.3)  # trace
  best = min(simulation.run(0.3)['seconds'] for _ in range(2))
  simulation.close()
  return 1000 * best / task.max_length


def matmul_gflops(size=2048, repeats=10):
  import tensorflow as tf
  a = tf.random.normal([size, size])

  @tf.function
  def mm(x):
    return tf.reduce_sum(tf.matmul(x, x))

  seconds = timed(lambda: mm(a).numpy(), repeats)
  return 2 * size ** 3 / seconds / 1e9


class Results(dict):
  """Prints each measurement as soon as it is made."""

  def __setitem__(self, key, value):
    super().__setitem__(key, value)
    text = f'{value:.3f}' if isinstance(value, float) else str(value)
    print(f'{key:<52}  {text}', flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--skip-full', action='store_true', help='skip the slow [50, 50] step')
  parser.add_argument('--no-onednn-compare', action='store_true')
  parser.add_argument('--only-step', help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.only_step:  # The subprocess that measures one step with the caller's environment.
    print(json.dumps(train_step_seconds(json.loads(args.only_step), args.repeats)))
    return
  results = Results()
  results['TF_ENABLE_ONEDNN_OPTS'] = os.environ.get('TF_ENABLE_ONEDNN_OPTS')
  results['matmul_gflops'] = matmul_gflops()
  if not args.skip_full:
    results['train_step_50x50_s'] = train_step_seconds((50, 50), args.repeats)
  results['train_step_8x32_s'] = train_step_seconds((8, 32), args.repeats)
  if not args.no_onednn_compare:
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS='0')
    out = subprocess.run(
        [sys.executable, __file__, '--only-step', '[8, 32]', '--repeats', str(args.repeats)],
        env=env, capture_output=True, text=True, check=True).stdout
    results['train_step_8x32_onednn_off_s'] = json.loads(out.strip().splitlines()[-1])
    results['onednn_speedup_8x32'] = (
        results['train_step_8x32_onednn_off_s'] / results['train_step_8x32_s'])
  results['plan_action_1000x12x10_s'] = plan_seconds(args.repeats)
  for name in ('cartpole_swingup', 'cheetah_run'):
    results[f'env_decisions_per_s_{name}_buffer_640x480'] = env_fps(name, default_buffer=True)
    results[f'env_decisions_per_s_{name}'] = env_fps(name)
  for planner in ('debug', 'default'):
    python = episode_step_ms(False, planner)
    graph = episode_step_ms(True, planner)
    results[f'episode_ms_per_step_python_loop_{planner}_planner'] = python
    results[f'episode_ms_per_step_in_graph_{planner}_planner'] = graph
    results[f'in_graph_speedup_{planner}_planner'] = python / graph


if __name__ == '__main__':
  main()
