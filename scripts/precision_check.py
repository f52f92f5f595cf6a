"""Does precision 16 learn the same? Trains a float32 and a precision-16 world model side by side.

  python3 scripts/precision_check.py [--task cartpole_swingup] [--episodes 20] [--batch-shape 8 50]
                                     [--updates 300] [--outdir DIR] [--seed 0] [--control]

Both models start from the same weights and take the same batches (one pipeline over the same random
episodes on disk, each batch given to both), so the only difference is the compute dtype. Prints the
world-model objectives of both every `--every` updates (means over that window) and their difference
relative to max(|float32 value|, 1); writes `curves.csv` and `curves.png` into `--outdir`. The image
log-likelihood of a unit-variance Gaussian contains the constant -0.5 * 64 * 64 * 3 * log(2 pi) = -11291,
which hides the part that learns: the image and loss columns are shown without it (the image column is
half the summed squared error per frame). Needs a machine where `precision: 16` is allowed (bfloat16
CPU hardware or a GPU). With --control the second model is float32 too: two float32 models differ by
their posterior noise only, which shows how far two runs drift apart anyway.
"""

import argparse
import csv
import os
import tempfile
import time

import numpy as np

from planet.tools import quiet_start

KEYS = ('loss', 'image', 'reward', 'divergence')
IMAGE_CONSTANT = 0.5 * 64 * 64 * 3 * np.log(2 * np.pi)  # of the image log-likelihood (and the loss)


def shown(metrics):
  """The objectives with the image log-likelihood's constant removed (see the module docstring)."""
  return {'loss': metrics['loss'] - IMAGE_CONSTANT, 'image': -metrics['image'] - IMAGE_CONSTANT,
          'reward': metrics['reward'], 'divergence': metrics['divergence']}


def main():
  quiet_start.install()
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--task', default='cartpole_swingup')
  parser.add_argument('--episodes', type=int, default=20)
  parser.add_argument('--batch-shape', type=int, nargs=2, default=[8, 50])
  parser.add_argument('--updates', type=int, default=300)
  parser.add_argument('--every', type=int, default=25)
  parser.add_argument('--outdir', default=None)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--control', action='store_true', help='compare two float32 models')
  args = parser.parse_args()
  import tensorflow as tf
  from planet.control import simulate
  from planet.scripts import build
  from planet.scripts import configs
  outdir = args.outdir or tempfile.mkdtemp(prefix='precision-check-')
  os.makedirs(outdir, exist_ok=True)
  batch = args.batch_shape[0]
  overrides = {'tasks': [args.task], 'batch_shape': args.batch_shape, 'train_steps': batch,
               'test_steps': batch, 'seed': args.seed}
  params = {p: configs.resolve({**overrides, 'precision': 32 if args.control else p})
            for p in (32, 16)}
  directory = os.path.join(outdir, 'episodes')
  if len(os.listdir(directory) if os.path.isdir(directory) else []) < args.episodes:
    print(f'Collecting {args.episodes} random {args.task} episodes into {directory} ...', flush=True)
    simulate.random_episodes(build.task(args.task, params[32]), directory, args.episodes, args.seed)
  data = iter(build.dataset(params[32], directory, seed=args.seed))
  tf.random.set_seed(args.seed)
  learners = {}
  for precision in (32, 16):
    model = build.model(params[precision], action_size=data.element_spec['action'].shape[-1])
    learners[precision] = build.learner(params[precision], model)
    learners[precision].compile(data.element_spec)
  print(f'compute dtypes: float32 and {learners[16].model.compute_dtype} (the "16" columns)', flush=True)
  for mine, theirs in zip(learners[16].model.trainable_variables,
                          learners[32].model.trainable_variables):
    mine.assign(theirs)  # the same initial weights
  rows, window, seconds = [], {p: [] for p in learners}, {p: 0.0 for p in learners}
  print(f'{"update":>7}  ' + '  '.join(f'{k[:5] + " 32":>10}{k[:5] + " 16":>10}{"diff":>7}' for k in KEYS))
  for update in range(1, args.updates + 1):
    batch_data = next(data)
    for precision, learner in learners.items():
      start = time.perf_counter()
      metrics = shown({k: float(v) for k, v in learner.train(batch_data).items()})
      seconds[precision] += time.perf_counter() - start
      window[precision].append(metrics)
      rows.append({'update': update, 'precision': precision, **{k: metrics[k] for k in KEYS}})
    if update % args.every == 0:
      means = {p: {k: np.mean([m[k] for m in window[p]]) for k in KEYS} for p in learners}
      text = []
      for k in KEYS:
        rel = abs(means[16][k] - means[32][k]) / max(abs(means[32][k]), 1.0)
        text.append(f'{means[32][k]:10.4g}{means[16][k]:10.4g}{100 * rel:6.1f}%')
      print(f'{update:7d}  ' + '  '.join(text), flush=True)
      window = {p: [] for p in learners}
  print(f'seconds per update: float32 {seconds[32] / args.updates:.3f}, precision 16 '
        f'{seconds[16] / args.updates:.3f} ({seconds[32] / seconds[16]:.2f}x)')
  last = max(args.updates // 6, 1)
  for k in KEYS:
    values = {p: np.mean([r[k] for r in rows if r['precision'] == p][-last:]) for p in learners}
    print(f'last {last} updates, {k}: float32 {values[32]:.4g}, precision 16 {values[16]:.4g} '
          f'({100 * (values[16] - values[32]) / max(abs(values[32]), 1.0):+.1f}%)')
  with open(os.path.join(outdir, 'curves.csv'), 'w', newline='') as f:
    writer = csv.DictWriter(f, ['update', 'precision', *KEYS])
    writer.writeheader()
    writer.writerows(rows)
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  figure, axes = plt.subplots(1, len(KEYS), figsize=(4 * len(KEYS), 3.2))
  for axis, k in zip(axes, KEYS):
    for precision in learners:
      values = np.array([r[k] for r in rows if r['precision'] == precision])
      smooth = np.convolve(values, np.ones(10) / 10, mode='valid')
      axis.plot(np.arange(len(smooth)) + 10, smooth, label=f'precision {precision}')
    axis.set_title({'image': 'image (0.5 SSE per frame)', 'loss': 'loss - 11291'}.get(k, k))
    axis.set_xlabel('update')
  axes[0].legend()
  figure.tight_layout()
  figure.savefig(os.path.join(outdir, 'curves.png'), dpi=100)
  print(f'Wrote {outdir}/curves.csv and curves.png.')


if __name__ == '__main__':
  main()
