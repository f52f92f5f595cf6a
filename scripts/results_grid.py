"""Times the results step of a sweep over a synthetic grid of paper-size runs.

  python3 scripts/results_grid.py --dir /tmp/grid              # build the grid, then time the results
  python3 scripts/results_grid.py --dir /tmp/grid --events     # time them from the event files only

The grid is 5 experiments x 6 tasks x 5 seeds = 150 run directories as a sweep leaves them:
params.yaml, DONE, metrics.jsonl and `test/` event files of --phases test phases (the paper's 1,000
episodes at 10 collections per epoch are ~100 epochs; a run until stopped has ~1,000). Per test phase the
event files hold what the trainer writes at paper size: the model summaries of one [50, 50] batch (seven
PNG strips of 10 x 50 frames, two prediction GIFs, a reward plot), the test episode's GIF and 35 scalars,
with record sizes measured on a run of this code (SIZES; random bytes stand in for the images). The
event file is written once and hard-linked into every run: the disk holds one run's, the results read
150 runs' bytes (from the page cache when it fits). metrics.jsonl has the lines the trainer writes: per
epoch a test line and a train line of ~30 scalars and 9 collection lines.

The timing is one fresh `python3 -m planet.scripts.sweep --logdir DIR --report_only` (the results
table and six figures), with whatever `planet` the environment imports: run it with the PYTHONPATH of
another checkout to time that one on the same grid. --events hides every metrics.jsonl while it runs;
--view N times the first N runs (linked into a folder beside the grid).
"""

import argparse
import glob
import os
import subprocess
import sys
import time

import numpy as np

EXPERIMENTS = ('planet', 'random_collection', 'deterministic', 'stochastic', 'overshooting')
TASKS = ('cartpole_swingup', 'reacher_easy', 'cheetah_run', 'finger_spin', 'cup_catch', 'walker_walk')
# Bytes per record of one test phase at paper size (strips of 10 x 50 frames, GIFs of 10 sequences):
# measured on a cpu_quick run of cartpole_balance (batch [10, 50], the same strip and GIF sizes as
# [50, 50]) at its first test phase; a trained model's predictions compress better.
SIZES = {
    'data/image': 302233, 'closedloop/image/prediction': 1735733, 'closedloop/image/error': 1822792,
    'closedloop/image/change': 1532525, 'closedloop/image/animation': 880201,
    'openloop/image/prediction': 1789128, 'openloop/image/error': 1867466,
    'openloop/image/change': 1575930, 'openloop/image/animation': 923306,
    'openloop/reward/prediction': 21152, 'simulation/test_main_cartpole_swingup/animation': 36475,
}
SCALARS = ('objectives/image', 'objectives/reward', 'objectives/divergence', 'loss',
           'optimizer/grad_norm', 'optimizer/clipped_gradient_norm', 'optimizer/learning_rate',
           'dataset/episodes', 'step', 'steps_per_second') + tuple(
    f'{kind}/state/{name}' for kind in ('closedloop', 'openloop') for name in (
        'prior_entropy', 'prior_std', 'posterior_entropy', 'posterior_std', 'divergence')) + (
    'closedloop/reward/abs_error', 'openloop/reward/abs_error')


def write_events(folder, phases, longest=50000):
  """The test/ event file of a run of `phases` test phases (summary step i * longest)."""
  import tensorflow as tf
  from tensorboard.plugins.image import metadata
  payload = np.random.RandomState(0).bytes(max(SIZES.values()))
  writer = tf.summary.create_file_writer(folder)
  with writer.as_default():
    for phase in range(phases):
      step = phase * longest
      for tag, size in SIZES.items():
        tf.summary.write(tag, tf.constant(['640', '3200', payload[:size - 150]]), step=step,
                         metadata=metadata.create_summary_metadata(display_name=tag, description=''))
      for tag in SCALARS:
        tf.summary.scalar(tag, phase + 5.0 if tag == 'dataset/episodes' else 0.5, step=step)
      tf.summary.scalar('trainer/test/score', 800 * (1 - np.exp(-phase / 200)), step=step)
      tf.summary.scalar('simulation/test_main_cartpole_swingup/return', 800.0, step=step)
    writer.flush()
  writer.close()


def write_metrics(path, phases, seed, longest=50000):
  """metrics.jsonl of a run: per epoch 9 collection lines and a log line in train, a line in test."""
  from planet.tools import metrics
  rng = np.random.RandomState(seed)
  writer = metrics.Writer(path)
  values = {tag: 0.5 for tag in SCALARS}
  for epoch in range(phases):
    step = epoch * longest
    writer.write('train', step, values, wall_time=float(step))
    for index in range(1, 10):
      writer.write('train', step + 5000 * index, {'collection/train_main/return': rng.uniform(0, 900)},
                   wall_time=float(step + index))
    score = 800 * (1 - np.exp(-epoch / 200)) + rng.normal(0, 30)
    writer.write('test', step, {**values, 'dataset/episodes': 5.0 + 10 * epoch,
                                'trainer/test/score': score, 'simulation/test_main/return': score},
                 wall_time=float(step + 10))
  writer.close()


def build(directory, runs, phases):
  from planet.scripts import configs
  shared = os.path.join(directory, 'shared_test_events')
  if not glob.glob(os.path.join(shared, '*tfevents*')):
    began = time.time()
    write_events(shared, phases)
    print(f'wrote the test event file in {time.time() - began:.0f} s', flush=True)
  source, = glob.glob(os.path.join(shared, '*tfevents*'))
  grid = [(e, t, s) for e in EXPERIMENTS for t in TASKS for s in range(1, 6)][:runs]
  for seed, (experiment, task, index) in enumerate(grid):
    run = os.path.join(directory, experiment, task, f'{index:05d}')
    if os.path.exists(os.path.join(run, 'DONE')):
      continue
    os.makedirs(os.path.join(run, 'test'), exist_ok=True)
    configs.dump(configs.resolve({'tasks': [task], 'seed': index}), os.path.join(run, 'params.yaml'))
    os.link(source, os.path.join(run, 'test', os.path.basename(source)))
    write_metrics(os.path.join(run, 'metrics.jsonl'), phases, seed)
    open(os.path.join(run, 'PING'), 'w').close()
    open(os.path.join(run, 'DONE'), 'w').close()
  return len(grid), os.path.getsize(source)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--dir', required=True, help='where to build the grid (outside the repository)')
  parser.add_argument('--runs', type=int, default=150)
  parser.add_argument('--phases', type=int, default=1000, help='test phases per run')
  parser.add_argument('--events', action='store_true', help='time the results without metrics.jsonl')
  parser.add_argument('--view', type=int, default=0, help='time the results of the first N runs only')
  args = parser.parse_args()
  runs, size = build(args.dir, args.runs, args.phases)
  logdir = args.dir
  if args.view:  # the first --view runs, as links in a folder beside the grid
    logdir = f'{os.path.normpath(args.dir)}-first{args.view}'
    for run in sorted(glob.glob(os.path.join(args.dir, '*', '*', '*', 'DONE')))[:args.view]:
      link = os.path.join(logdir, os.path.relpath(os.path.dirname(run), args.dir))
      if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.abspath(os.path.dirname(run)), link)
    runs = args.view
  jsonl = glob.glob(os.path.join(logdir, '*', '*', '*', 'metrics.jsonl'))
  print(f'{runs} runs of {args.phases} test phases: {size / 1e9:.2f} GB of test events per run, '
        f'{sum(map(os.path.getsize, jsonl)) / len(jsonl) / 1e6:.2f} MB of metrics.jsonl', flush=True)
  hidden = [(path, path + '.hidden') for path in jsonl] if args.events else []
  for path, aside in hidden:
    os.replace(path, aside)
  try:
    began = time.time()
    result = subprocess.run(  # not in a checkout's folder: `-m` imports from the working directory
        [sys.executable, '-m', 'planet.scripts.sweep', '--logdir', logdir, '--report_only'],
        capture_output=True, text=True, cwd=logdir)
    seconds = time.time() - began
  finally:
    for path, aside in hidden:
      os.replace(aside, path)
  import planet
  source = 'event files' if args.events else 'metrics.jsonl where the code reads it'
  print(f'results step of {runs} runs ({source}; planet from {os.path.dirname(planet.__file__)}): '
        f'{seconds:.1f} s, exit {result.returncode}')
  print(result.stdout[-2000:], result.stderr[-2000:], sep='\n')


if __name__ == '__main__':
  main()
