"""Where the time of one plan goes: per-part timing against the same run's matmul peak, and op types.

  python3 scripts/profile_plan.py [--precision 32] [--repeats 3] [--ops 20] [--config default]

One plan is what the agent does per action (planet/control/mpc_agent.py): filter one observation, then
CEM (planet/control/planning.py) over `planner_amount` candidates x `planner_horizon` steps x
`planner_iterations` iterations. Parts, each a tf.function timed alone and repeated as often as one plan
runs it (`iterations` times), on the inputs the plan gives it:

  imagine        the RSSM's open-loop unroll of all candidates (tf.scan over the horizon: the GRU step,
                 the prior's layers, the stats layer and the sample),
  reward head    the head over all amount x horizon features (and the features' concat, the sum),
  CEM itself     the candidates (noise, clip), top_k, the elites' gather and moments, with the returns
                 of a stub objective,
  step matmuls   only the matmuls of the unroll's steps, at their shapes, in a loop of the same length:
                 what the unroll would take if its elementwise ops and loop were free,

then the whole plan (the agent's policy) and CEM on a filtered state. Every part is printed with its
GFLOP (scripts/benchmark.py's counts), GFLOP/s and share of the 2048^3 float32 matmul peak measured in
the same rounds (benchmark.py's `measure`: minimum over interleaved rounds). With --ops, the TF
profiler's op times over whole plans, by op type (inside the unroll's loop or not).

The parts run alone, so their sum differs from the whole plan. Runs with the code it finds on
PYTHONPATH, so the same script profiles older commits.
"""

import argparse

import numpy as np

from planet.tools import quiet_start

quiet_start.install()  # A script, never imported: before TensorFlow loads, below.

import tensorflow as tf  # noqa: E402

import benchmark  # noqa: E402  (scripts/benchmark.py, beside this file)
from profile_step import op_types  # noqa: E402  (beside it too)
from planet.control import planning  # noqa: E402
from planet.scripts import build  # noqa: E402


def step_matmuls(model, amount):
  """(kernel shapes, dtype) of the matmuls of one imagine step, in order."""
  weights = model.cell._weights(model.action_size)
  shapes = [weights['sample'][0].shape]
  shapes += [kernel.shape for kernel, _, _ in weights['prior_before']]
  w_ru, _, w_c, _ = weights['cell']
  shapes += [w_ru.shape, w_c.shape]
  shapes += [kernel.shape for kernel, _, _ in weights['prior_after']]
  shapes += [weights['prior_stats'][0].shape]
  dtypes = [weights['sample'][0].dtype] * (len(shapes) - 1) + [tf.float32]
  return [(amount, *shape) for shape in shapes], dtypes


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--precision', type=int, default=32)
  parser.add_argument('--config', default='default')
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--ops', type=int, default=20, help='op types to list (0: no profiler)')
  args = parser.parse_args()
  params = benchmark.params_for({'precision': args.precision}, args.config)
  model = build.model(params, action_size=benchmark.ACTION_SIZE)
  agent = build.agent(params, model)
  amount, horizon = params['planner_amount'], params['planner_horizon']
  iterations, topk = params['planner_iterations'], params['planner_topk']
  actions_size = model.action_size
  observation = {'image': np.zeros([1, 64, 64, 3], np.uint8)}
  rng = np.random.RandomState(0)
  state = {key: tf.constant(rng.randn(1, *value.shape[1:]), tf.float32)
           for key, value in model.cell.initial(1).items()}
  state['stddev'] = tf.abs(state['stddev'])
  tiled = tf.nest.map_structure(lambda x: tf.repeat(x, amount, 0), state)
  actions = tf.constant(rng.uniform(-1, 1, (amount, horizon, actions_size)), tf.float32)
  states = model.cell.imagine(actions, tiled)
  features = model.cell.features(states)

  def repeated(fn):
    """fn() run `iterations` times in a loop of the graph, as CEM runs its parts."""
    @tf.function
    def run():
      total = tf.constant(0.0)
      for _ in tf.range(iterations):
        total += tf.reduce_sum(tf.cast(fn(), tf.float32))
      return total
    return lambda: run().numpy()

  shapes, dtypes = step_matmuls(model, amount)
  operands = [(tf.cast(tf.random.normal(shape[:2]), dtype), tf.cast(tf.random.normal(shape[1:]), dtype))
              for shape, dtype in zip(shapes, dtypes)]

  def matmuls():
    def step(carry, _):
      return carry + sum(tf.reduce_sum(tf.cast(tf.matmul(a, b)[0, 0], tf.float32))
                         for a, b in operands)
    return tf.scan(step, tf.zeros([horizon]), tf.constant(0.0))

  def stub_objective(model, states):
    del model
    return tf.reduce_sum(states['action'], [1, 2])

  stub = type('Stub', (), {'cell': type('Cell', (), {
      'imagine': staticmethod(lambda action, state: {'action': action})})})()
  cem = tf.function(lambda state: planning.cem(
      model, state, actions_size, horizon, amount, topk, iterations))
  prior, head = benchmark.prior_flops(params), benchmark.head_flops(params)
  rows = iterations * amount * horizon
  step_flops = 2 * sum(n * k * m for n, k, m in shapes)
  parts = {
      'imagine': (repeated(lambda: model.cell.imagine(actions, tiled)['sample']),
                  rows * prior / 1e9),
      'reward head': (repeated(lambda: planning.reward_objective(model, states)), rows * head / 1e9),
      'CEM itself (stub objective)': (_compiled_stub(
          stub, state, actions_size, horizon, amount, topk, iterations, stub_objective), 0.0),
      'step matmuls alone': (repeated(matmuls), iterations * horizon * step_flops / 1e9),
      'CEM (filtered state)': (lambda: cem(state).numpy(), rows * (prior + head) / 1e9),
      'plan (agent policy)': (lambda: agent.policy(observation, np.float32(0.0)).numpy(),
                              benchmark.plan_flops(params) / 1e9),
  }
  peaks = {'matmul peak float32': benchmark.matmul('float32')}
  print(f'CPU: {benchmark.cpu_model()}; precision {args.precision}; {amount} x {horizon} x '
        f'{iterations}; step matmuls {shapes}', flush=True)
  seconds = benchmark.measure(parts, peaks, args.repeats)
  peak = peaks['matmul peak float32'][1] / seconds['matmul peak float32']
  plan = seconds['plan (agent policy)']
  print(f'\nfloat32 matmul peak {peak:.1f} GFLOP/s (same rounds)')
  print(f'{"part":<30}{"seconds":>9}{"% plan":>8}{"GFLOP":>8}{"GFLOP/s":>9}{"% peak":>8}')
  for name, (_, gflop) in parts.items():
    rate = gflop / seconds[name]
    print(f'{name:<30}{seconds[name]:>9.3f}{100 * seconds[name] / plan:>7.0f}%{gflop:>8.1f}'
          f'{rate:>9.1f}{100 * rate / peak:>7.0f}%')
  if args.ops:
    times, counts = op_types(parts['plan (agent policy)'][0])
    print(f'op types (seconds per plan, summed over threads; total {sum(times.values()):.3f} s; '
          f'calls per plan):')
    for name, value in times.most_common(args.ops):
      print(f'  {value:8.3f}  {counts[name]:7.0f}  {name}')


def _compiled_stub(stub, state, action_size, horizon, amount, topk, iterations, objective):
  function = tf.function(lambda: planning.cem(
      stub, state, action_size, horizon, amount, topk, iterations, objective=objective))
  return lambda: function().numpy()


if __name__ == '__main__':
  main()
