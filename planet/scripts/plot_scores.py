"""Learning curves of one or more runs against the paper's Table 1.

  python3 -m planet.scripts.plot_scores --logdirs 'logs/*/0000*' --outfile curves.png

For each task (read from each run's params.yaml) it draws the test score (`trainer/test/score`, read
from the run's metrics.jsonl, or from its `test/` event files for a run without one) against the
number of collected episodes and against environment steps (1000 per episode for every task), as
the mean over runs with the min-max spread shaded, and the final scores the paper reports for PlaNet and
for D4PG (after 1e5 episodes) as horizontal reference lines. `--baselines` adds the returns of simple
policies measured by scripts/baselines.py (a CSV of task, policy, episodes, mean, std) as gray lines,
e.g. `--baselines docs/results/baselines.csv`. The file type follows the extension: PNG at 200 dpi, or
PDF and SVG as vector graphics. A run of several tasks (one agent for all) puts each task's own test
return (`simulation/test_main_<task>/return`) in that task's panel, against its share of the episodes.

To compare variants, repeat `--logdirs` with a `--label` each: every group is one line (its mean and
spread) in the same axes.

  python3 -m planet.scripts.plot_scores --outfile scales.png \
      --logdirs 'logs/scale1_*/00001' --label 'scale 1' --logdirs 'logs/scale10_*/00001' --label 'scale 10'
"""

import csv

import glob
import os
import sys

import numpy as np

from planet.scripts import configs
from planet.tools import atomic
from planet.tools import cli
from planet.tools import metrics

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
FORMATS = ('png', 'pdf', 'svg')
DPI = 200
COLUMN_WIDTH, ROW_HEIGHT, LEGEND_LINE = 4.0, 3.0, 0.2  # inches


def _curves(logdir, tags, per_episodes=1):
  """{name: (episodes [N], scores [N])} of the test-phase scalars {name: tag} of a run against its
  collected episodes divided by `per_episodes`: from its metrics.jsonl, or from its `test/` event
  files for a run without one."""
  values = metrics.scalars(logdir, 'test', list(tags.values()) + ['dataset/episodes'])
  counts = {step: value for _, step, value in values.get('dataset/episodes', [])}
  result = {}
  for name, tag in tags.items():
    scores = {step: value for _, step, value in values.get(tag, []) if step in counts}
    result[name] = (np.array([counts[s] / per_episodes for s in sorted(scores)]),
                    np.array([scores[s] for s in sorted(scores)]))
  return result


def run_curve(logdir):
  """(task name, episodes [N], scores [N]) of one run directory."""
  params = configs.load(os.path.join(logdir, 'params.yaml'))
  task = '+'.join(params['tasks'])
  return (task, *_curves(logdir, {task: 'trainer/test/score'})[task])


def task_curves(logdir):
  """{task: (episodes [N], scores [N])} of one run directory. A run of several tasks (one agent, all
  tasks) gives each task its own test returns (`simulation/test_main_<task>/return`) against the
  episodes collected per task (all of them divided by the number of tasks)."""
  tasks = configs.load(os.path.join(logdir, 'params.yaml'))['tasks']
  if len(tasks) == 1:
    return _curves(logdir, {tasks[0]: 'trainer/test/score'})
  return _curves(logdir, {task: f'simulation/test_main_{task}/return' for task in tasks}, len(tasks))


def aggregate(curves):
  """Mean, min and max over runs on the union of their episode counts (each run interpolated within
  its own range)."""
  grid = np.unique(np.concatenate([x for x, _ in curves]))
  values = np.full((len(curves), len(grid)), np.nan)
  for index, (x, y) in enumerate(curves):
    inside = (grid >= x.min()) & (grid <= x.max())
    values[index, inside] = np.interp(grid[inside], x, y)
  return grid, np.nanmean(values, 0), np.nanmin(values, 0), np.nanmax(values, 0)


def read_baselines(path):
  """{task: {policy: (mean, std)}} from a CSV written by scripts/baselines.py --csv."""
  result = {}
  with open(path, newline='') as f:
    for row in csv.DictReader(f):
      result.setdefault(row['task'], {})[row['policy']] = (float(row['mean']), float(row['std']))
  return result


def figure_size(curves, baselines=None):
  """(width, height) in inches: a column per task, two rows of axes and room below for the legend."""
  baselines = baselines or {}
  entries = max(len(lines) + len(PAPER.get(task, {})) + len(baselines.get(task, {}))
                for task, lines in curves.items())
  return COLUMN_WIDTH * len(curves), round(2 * ROW_HEIGHT + 0.4 + LEGEND_LINE * entries, 2)


def figure(curves, baselines=None):
  """A matplotlib figure of `curves`, {task: {label: [(episodes, scores), ...]}}.

  A column per task: score against episodes above, against environment steps below; one line per label
  (the mean over its runs, the min-max spread shaded), the paper's scores as black reference lines and
  the `baselines` ({task: {policy: (mean, std)}}) as gray ones. Each column's legend sits below its
  axes, clear of the data.
  """
  baselines = baselines or {}
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  from matplotlib import ticker
  tasks = sorted(curves)
  fig, axes = plt.subplots(2, len(tasks), figsize=figure_size(curves, baselines), squeeze=False,
                           layout='constrained')
  for column, task in enumerate(tasks):
    for row, scale, label in ((0, 1, 'episodes'), (1, ENV_STEPS_PER_EPISODE, 'environment steps')):
      ax = axes[row, column]
      for index, (name, runs) in enumerate(curves[task].items()):
        grid, mean, low, high = aggregate(runs)
        color = f'C{index % 10}'
        ax.plot(grid * scale, mean, color=color,
                label=f'{name} ({len(runs)} run{"s" if len(runs) != 1 else ""})')
        ax.fill_between(grid * scale, low, high, color=color, alpha=0.2, linewidth=0)
      for (name, value), style in zip(PAPER.get(task, {}).items(), ('--', ':')):
        ax.axhline(value, color='k', linestyle=style, linewidth=1, label=f'{name} (paper) {value}')
      for (name, (mean, std)), style in zip(sorted(baselines.get(task, {}).items()),
                                            ('-.', (0, (1, 3)), '--')):
        ax.axhline(mean, color='0.5', linestyle=style, linewidth=1,
                   label=f'{name} policy {mean:.0f} +- {std:.0f}')
      ax.set_xlabel(label)
      ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=5, integer=True))  # readable in one column
      if scale != 1:
        ax.xaxis.set_major_formatter(ticker.EngFormatter(sep=''))  # 10k, 1M
      ax.set_ylabel('test return')
      ax.set_title(task)
      ax.grid(alpha=0.3)
    axes[1, column].legend(fontsize=8, loc='upper center', bbox_to_anchor=(0.5, -0.25), frameon=False)
  return fig


def plot(curves, outfile, baselines=None):
  """Draws `curves` and `baselines` (see `figure`) to `outfile`, PNG at 200 dpi or PDF or SVG,
  atomically."""
  import matplotlib.pyplot as plt
  fig = figure(curves, baselines)
  extension = os.path.splitext(outfile)[1][1:].lower()
  try:
    atomic.write(outfile, lambda f: fig.savefig(f, format=extension, dpi=DPI))
  finally:
    plt.close(fig)


def check_outfile(outfile):
  """The one-line problem with `outfile` as a figure to write, or None."""
  extension = os.path.splitext(outfile)[1][1:].lower()
  if extension not in FORMATS:
    return f'--outfile {outfile!r}: allowed extensions: {", ".join("." + f for f in FORMATS)}'
  folder = os.path.dirname(os.path.abspath(outfile))
  if not os.path.isdir(folder):
    return f'--outfile {outfile!r}: the folder {folder!r} does not exist'
  return None


def group_labels(logdirs, labels):
  """The legend's name of each --logdirs glob: the given --label ones, else 'ours' for one glob and the
  globs themselves for several."""
  if labels:
    return labels
  return ['ours'] if len(logdirs) == 1 else list(logdirs)


def check_labels(logdirs, labels):
  """The one-line problem with the --label names of the --logdirs globs, or None."""
  if len(labels) != len(logdirs):
    return f'--label given {len(labels)} times for {len(logdirs)} --logdirs: give one per --logdirs, or none'
  if len(set(labels)) != len(labels):
    return f'--label: each group needs its own name, got {labels}'
  return None


def group_curves(label, pattern, curves):
  """Adds the runs matching the glob `pattern` that have test scores to `curves`, {task: {label:
  [(episodes, scores), ...]}}; returns how many. A run of several tasks (one agent, all tasks) adds
  each task's own test returns to that task's panel, against the episodes collected per task."""
  found = 0
  for logdir in sorted(glob.glob(os.path.expanduser(pattern))):
    if not os.path.exists(os.path.join(logdir, 'params.yaml')):
      continue
    with_scores = False
    for task, (episodes, scores) in task_curves(logdir).items():
      if len(scores):
        curves.setdefault(task, {}).setdefault(label, []).append((episodes, scores))
        with_scores = True
    found += with_scores
  return found


def summary(lines, with_labels):
  """'2 runs', or with several groups 'scale 1: 2 runs, scale 10: 1 runs', of one task's lines."""
  return ', '.join((f'{label}: ' if with_labels else '') + f'{len(runs)} runs'
                   for label, runs in lines.items())


def main(argv=None):
  parser = cli.Parser(__doc__)
  parser.add_argument('--logdirs', required=True, action='append',
                      help='glob of run directories (with params.yaml); repeat it for several groups')
  parser.add_argument('--outfile', required=True,
                      help='figure to write: .png (200 dpi), .pdf or .svg (vector)')
  parser.add_argument('--baselines', default=None,
                      help='CSV of simple policies\' returns (scripts/baselines.py --csv) to draw')
  parser.add_argument('--label', action='append', default=None,
                      help='the legend\'s name of the runs of each --logdirs, in order (default: ours '
                      'for one, the globs for several)')
  args = parser.parse_args(argv)
  outfile = os.path.expanduser(args.outfile)
  labels = group_labels(args.logdirs, args.label)
  problem = check_labels(args.logdirs, labels) or check_outfile(outfile)
  if problem:
    print(f'error: {problem}', file=sys.stderr)
    return 2
  baselines = None
  if args.baselines:
    try:
      baselines = read_baselines(os.path.expanduser(args.baselines))
    except (OSError, KeyError, ValueError) as e:
      print(f'error: --baselines {args.baselines!r}: cannot read it as task, policy, mean, std rows '
            f'({type(e).__name__}: {e})', file=sys.stderr)
      return 2
  curves = {}
  for label, pattern in zip(labels, args.logdirs):
    if not group_curves(label, pattern, curves):
      print(f'error: no run with test scores matches {pattern!r}', file=sys.stderr)
      return 2
  plot(curves, outfile, baselines)
  print(f'Wrote {outfile}: ' + ', '.join(f'{task} ({summary(lines, len(labels) > 1)})'
                                          for task, lines in curves.items()))
  return 0


if __name__ == '__main__':
  sys.exit(main())
