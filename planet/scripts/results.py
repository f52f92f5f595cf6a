"""The results of a sweep beside the paper's Table 1: `DIR/results.md`, `DIR/results.csv` and a learning-curve
figure per task, `DIR/results_<task>.png`, with one line per experiment.

A run's final score is the mean of its last 10 test scores (one noise-free test episode each with the
default collect specs), the paper's measure; a row gives its mean and standard deviation (numpy's, ddof 0)
over the finished runs (seeds) of one experiment and task. Runs are the directories
`DIR/<experiment>/<task>/<NNNNN>` that hold a params.yaml.
"""

import collections
import glob
import os
import re

import numpy as np

from planet.scripts import plot_scores
from planet.tools import atomic
from planet.training import running

LAST = 10
EXPERIMENT_ORDER = ('planet', 'random_collection', 'deterministic', 'stochastic',
                    'one_agent_all_tasks')
TASK_ORDER = tuple(plot_scores.PAPER)  # Table 1's columns
RUN_NAME = re.compile(r'^\d{5}$')
CSV_COLUMNS = ('experiment', 'task', 'score_mean', 'score_std', 'runs_finished', 'runs_failed',
               'runs_total', 'train_episodes', 'test_episodes', 'paper_planet', 'run_scores')


def final_score(scores, last=LAST):
  """(mean of the last `last` finite scores, how many) or (nan, 0)."""
  scores = np.asarray(scores, np.float64)
  scores = scores[np.isfinite(scores)][-last:]
  return (float(np.mean(scores)), len(scores)) if len(scores) else (float('nan'), 0)


def find_runs(logdir):
  """{(experiment, task): [run directory, ...]} of the runs under a sweep's logdir."""
  runs = collections.defaultdict(list)
  for path in sorted(glob.glob(os.path.join(glob.escape(logdir), '*', '*', '*', 'params.yaml'))):
    run = os.path.dirname(path)
    task_dir = os.path.dirname(run)
    if RUN_NAME.match(os.path.basename(run)):
      runs[(os.path.basename(os.path.dirname(task_dir)), os.path.basename(task_dir))].append(run)
  return dict(runs)


def _order(names, first):
  return sorted(names, key=lambda n: (first.index(n) if n in first else len(first), n))


def summarize(logdir):
  """One row per experiment and task (dicts with the CSV columns), and the curves for the figures,
  {task: {experiment: [(episodes, scores), ...]}}. A run of several tasks counts for each of them."""
  by_task = collections.defaultdict(list)  # (experiment, task) -> [(run, episodes, scores)]
  for (experiment, _), paths in find_runs(logdir).items():
    for run in paths:
      for task, (episodes, scores) in plot_scores.task_curves(run).items():
        by_task[(experiment, task)].append((run, episodes, scores))
  rows, curves = [], collections.defaultdict(dict)
  experiments = _order({e for e, _ in by_task}, EXPERIMENT_ORDER)
  tasks = _order({t for _, t in by_task}, TASK_ORDER)
  for experiment in experiments:
    for task in tasks:
      if (experiment, task) not in by_task:
        continue
      finished, failed, run_scores, train_episodes, test_episodes = 0, 0, [], [], []
      for run, episodes, scores in by_task[(experiment, task)]:
        if len(scores):
          curves[task].setdefault(experiment, []).append((episodes, scores))
        state = running.state(run)
        failed += state == 'failed'
        if state != 'done':
          continue
        finished += 1
        score, count = final_score(scores)
        if count:
          run_scores.append((os.path.basename(run), score))
          test_episodes.append(count)
          train_episodes.append(float(episodes[-1]))
      values = [score for _, score in run_scores]
      rows.append({
          'experiment': experiment, 'task': task,
          'score_mean': float(np.mean(values)) if values else float('nan'),
          'score_std': float(np.std(values)) if values else float('nan'),
          'runs_finished': finished, 'runs_failed': failed,
          'runs_total': len(by_task[(experiment, task)]),
          'train_episodes': float(np.mean(train_episodes)) if train_episodes else float('nan'),
          'test_episodes': min(test_episodes) if test_episodes else 0,
          'paper_planet': plot_scores.PAPER.get(task, {}).get('PlaNet'),
          'run_scores': ';'.join(f'{name}:{score!r}' for name, score in run_scores),
      })
  return rows, dict(curves)


def _number(value, digits=1):
  return '—' if value is None or not np.isfinite(value) else f'{value:.{digits}f}'


def format_markdown(rows, figures=()):
  lines = [
      '# Results',
      '',
      f'Final score: the mean return of the last {LAST} test episodes of each finished run (the paper\'s '
      'measure), as mean ± std over the runs (seeds). Paper: PlaNet in Table 1 of Hafner et al. (ICML '
      '2019). Train episodes: collected per run (mean); test episodes: in each run\'s final score '
      '(fewest over the runs).',
      '',
      '| experiment | task | score | finished runs | train episodes | test episodes | paper (PlaNet) |',
      '|---|---|---|---|---|---|---|',
  ]
  for row in rows:
    score = '—'
    if np.isfinite(row['score_mean']):
      score = f'{row["score_mean"]:.1f} ± {row["score_std"]:.1f}'
    runs = f'{row["runs_finished"]} of {row["runs_total"]}'
    if row['runs_failed']:
      runs += f' ({row["runs_failed"]} failed)'
    paper = '—' if row['paper_planet'] is None else str(row['paper_planet'])
    lines.append(f'| {row["experiment"]} | {row["task"]} | {score} | {runs} | '
                 f'{_number(row["train_episodes"])} | {row["test_episodes"]} | {paper} |')
  for task, name in figures:
    lines += ['', f'![{task}]({name})']
  return '\n'.join(lines) + '\n'


def format_csv(rows):
  import csv
  import io
  out = io.StringIO()
  writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator='\n')
  writer.writeheader()
  for row in rows:
    writer.writerow({k: ('' if v is None else repr(v) if isinstance(v, float) else v)
                     for k, v in row.items()})
  return out.getvalue()


def write(logdir):
  """Writes results.md, results.csv and the figures; returns the rows and the figures' file names."""
  rows, curves = summarize(logdir)
  figures = []
  for task in _order(curves, TASK_ORDER):
    name = f'results_{task}.png'
    plot_scores.plot({task: curves[task]}, os.path.join(logdir, name))
    figures.append((task, name))
  atomic.write(os.path.join(logdir, 'results.csv'), format_csv(rows))
  atomic.write(os.path.join(logdir, 'results.md'), format_markdown(rows, figures))
  return rows, [name for _, name in figures]
