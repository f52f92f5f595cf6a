"""Learning curves of one or more runs against the paper's Table 1.

  python3 -m planet.scripts.plot_scores --logdirs 'logs/*/0000*' --outfile curves.png

For each task (read from each run's params.yaml) it draws the test score (`trainer/test/score`) against
the number of collected episodes and against environment steps (1000 per episode for every task), as
the mean over runs with the min-max spread shaded, and the final scores the paper reports for PlaNet and
for D4PG (after 1e5 episodes) as horizontal reference lines.
"""

import argparse
import glob
import os
import sys

import numpy as np

from planet.scripts import configs
from planet.scripts import fetch_events

# Hafner et al. (ICML 2019), Table 1: final test returns.
PAPER = {
    'cartpole_swingup': {'PlaNet': 821, 'D4PG': 862},
    'reacher_easy': {'PlaNet': 832, 'D4PG': 967},
    'cheetah_run': {'PlaNet': 662, 'D4PG': 524},
    'finger_spin': {'PlaNet': 700, 'D4PG': 985},
    'cup_catch': {'PlaNet': 930, 'D4PG': 980},
    'walker_walk': {'PlaNet': 951, 'D4PG': 968},
}
ENV_STEPS_PER_EPISODE = 1000


def run_curve(logdir):
  """(task name, episodes [N], scores [N]) of one run directory."""
  params = configs.load(os.path.join(logdir, 'params.yaml'))
  task = '+'.join(params['tasks'])
  test = os.path.join(logdir, 'test')
  scores = {step: value for _, step, value in fetch_events.scalars(test, 'trainer/test/score').get(
      'trainer/test/score', [])}
  counts = {step: value for _, step, value in fetch_events.scalars(test, 'dataset/episodes').get(
      'dataset/episodes', [])}
  steps = sorted(set(scores) & set(counts))
  return task, np.array([counts[s] for s in steps]), np.array([scores[s] for s in steps])


def aggregate(curves):
  """Mean, min and max over runs on the union of their episode counts (each run interpolated within
  its own range)."""
  grid = np.unique(np.concatenate([x for x, _ in curves]))
  values = np.full((len(curves), len(grid)), np.nan)
  for index, (x, y) in enumerate(curves):
    inside = (grid >= x.min()) & (grid <= x.max())
    values[index, inside] = np.interp(grid[inside], x, y)
  return grid, np.nanmean(values, 0), np.nanmin(values, 0), np.nanmax(values, 0)


def plot(curves_by_task, outfile):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  tasks = sorted(curves_by_task)
  fig, axes = plt.subplots(2, len(tasks), figsize=(4 * len(tasks), 6.5), squeeze=False)
  for column, task in enumerate(tasks):
    grid, mean, low, high = aggregate(curves_by_task[task])
    for row, scale, label in ((0, 1, 'episodes'), (1, ENV_STEPS_PER_EPISODE, 'environment steps')):
      ax = axes[row, column]
      ax.plot(grid * scale, mean, color='C0', label=f'ours ({len(curves_by_task[task])} runs)')
      ax.fill_between(grid * scale, low, high, color='C0', alpha=0.2)
      for (name, value), style in zip(PAPER.get(task, {}).items(), ('--', ':')):
        ax.axhline(value, color='k', linestyle=style, linewidth=1, label=f'{name} (paper) {value}')
      ax.set_xlabel(label)
      ax.set_ylabel('test return')
      ax.set_title(task)
      ax.grid(alpha=0.3)
      ax.legend(fontsize=7, loc='lower right')
  fig.tight_layout()
  fig.savefig(outfile, dpi=80)
  plt.close(fig)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--logdirs', required=True, help='glob of run directories (with params.yaml)')
  parser.add_argument('--outfile', required=True, help='PNG file to write')
  args = parser.parse_args(argv)
  logdirs = sorted(d for d in glob.glob(os.path.expanduser(args.logdirs))
                   if os.path.exists(os.path.join(d, 'params.yaml')))
  curves = {}
  for logdir in logdirs:
    task, episodes, scores = run_curve(logdir)
    if len(scores):
      curves.setdefault(task, []).append((episodes, scores))
  if not curves:
    print(f'error: no run with test scores matches {args.logdirs!r}', file=sys.stderr)
    return 2
  plot(curves, args.outfile)
  print(f'Wrote {args.outfile}: ' + ', '.join(f'{t} ({len(c)} runs)' for t, c in curves.items()))
  return 0


if __name__ == '__main__':
  sys.exit(main())
