"""Checks, in minutes on a CPU, that PlaNet still learns: run it after changing the model, the loss or
the planner.

  python3 scripts/learning_check.py [--task cartpole_swingup] [--minutes 15] [--seed 1]
                                    [--last 3] [--threshold X] [--logdir DIR]

It trains the state preset (configs/cpu_state.yaml: the paper's RSSM, losses and update-to-episode
ratio, from the task's state vector, its log-likelihood scaled by 100) for --minutes of wall time, printing each test return as it comes,
then stops the run (as Ctrl-C does) and passes when the mean of the last --last test returns is above
the threshold. The default threshold comes from the baselines measured by scripts/baselines.py
(docs/results/baselines.csv): the better of the random and the all-zeros policy's mean plus three of its
standard deviations (cartpole_swingup: random 151.3 +- 58.8, threshold 327.7). Exit code 0 when it
passes, 1 when it does not (or the run failed), 2 for bad arguments. The run directory is removed when
the check passes unless --logdir names one; otherwise it is kept for a look (TensorBoard, evaluate).

The figures in docs/results/README.md say how far the preset gets in 15 minutes on a 2-core CPU. A
machine that is slower, or busy with other work, gets fewer episodes in the same minutes: give it more.
"""

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from planet.tools import cli  # noqa: E402

PRESET = os.path.join(REPO, 'configs', 'cpu_state.yaml')
BASELINES = os.path.join(REPO, 'docs', 'results', 'baselines.csv')
MARGIN = 3.0  # standard deviations of the better baseline


def threshold(task, path=BASELINES):
  """(threshold, how it was set) from the baselines CSV, or (None, why not)."""
  if not os.path.exists(path):
    return None, f'no baselines file {path}'
  with open(path, newline='') as f:
    rows = [row for row in csv.DictReader(f) if row['task'] == task]
  if not rows:
    return None, f'no baselines of {task} in {path}; measure them with scripts/baselines.py --csv'
  best = max(rows, key=lambda row: float(row['mean']))
  value = float(best['mean']) + MARGIN * float(best['std'])
  return value, (f'the {best["policy"]} policy\'s {float(best["mean"]):.1f} + {MARGIN:g} x '
                 f'{float(best["std"]):.1f}')


def train(logdir, task, seed, minutes):
  """Runs the preset for `minutes`; returns (test returns in order, exit code of the run)."""
  command = [sys.executable, '-m', 'planet.scripts.train', '--logdir', logdir, '--config', PRESET,
             '--params', f'{{tasks: [{task}], seed: {seed}}}']
  process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             cwd=REPO)
  start, scores, interrupted = time.time(), [], False
  deadline = start + 60 * minutes

  def stop(*unused):
    nonlocal interrupted
    if not interrupted and process.poll() is None:
      interrupted = True
      process.send_signal(signal.SIGINT)  # The run saves a checkpoint and exits.

  previous = signal.signal(signal.SIGALRM, stop)
  signal.setitimer(signal.ITIMER_REAL, max(deadline - time.time(), 0.01))
  try:
    for line in process.stdout:
      match = re.match(r'^Score (\S+)\.$', line.strip())
      if match:
        scores.append(float(match.group(1)))
        elapsed = time.time() - start
        print(f'{elapsed / 60:5.1f} min  test return {len(scores):2d}: {scores[-1]:7.1f}', flush=True)
      elif 'Traceback' in line or line.startswith('error:'):
        print(line.rstrip(), flush=True)
  finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
    stop()
    code = process.wait()
  return scores, code


def main(argv=None):
  parser = cli.Parser(__doc__)
  parser.add_argument('--task', default='cartpole_swingup', help='(default: cartpole_swingup; '
                      'cartpole_balance needs longer: docs/results/README.md)')
  parser.add_argument('--minutes', type=float, default=15.0, help='wall-time budget (default: 15)')
  parser.add_argument('--seed', type=int, default=1, help='the run\'s seed (default: 1)')
  parser.add_argument('--last', type=int, default=3, help='test returns averaged (default: 3)')
  parser.add_argument('--threshold', type=float, help='pass above this (default: from baselines)')
  parser.add_argument('--logdir', help='keep the run here (default: a temporary directory)')
  args = parser.parse_args(argv)
  from planet.scripts import tasks as tasks_lib
  if args.task not in tasks_lib.TASKS:
    parser.error(f'--task {args.task!r}: allowed: {", ".join(tasks_lib.TASKS)}.')
  if not args.minutes > 0:
    parser.error(f'--minutes {args.minutes}: allowed: a positive number.')
  if args.last < 1:
    parser.error(f'--last {args.last}: allowed: a positive number of test returns.')
  if args.seed < 0:
    parser.error(f'--seed {args.seed}: allowed: 0 or a positive integer.')
  if args.logdir and os.path.exists(args.logdir):
    parser.error(f'--logdir {args.logdir!r} exists; give a new directory.')
  limit, how = (args.threshold, 'given') if args.threshold is not None else threshold(args.task)
  if limit is None:
    parser.error(f'no threshold for {args.task}: {how}; or give --threshold.')
  logdir = args.logdir or tempfile.mkdtemp(prefix='learning_check_')
  print(f'{args.task}, seed {args.seed}, {args.minutes:g} minutes of configs/cpu_state.yaml; passes '
        f'when the mean of the last {args.last} test returns is above {limit:.1f} ({how}).',
        flush=True)
  scores, code = train(os.path.join(logdir, 'run'), args.task, args.seed, args.minutes)
  last = scores[-args.last:]
  if code not in (0, 130):  # 130: stopped by the check, after its checkpoint
    print(f'FAIL: the run exited with code {code}; its directory: {logdir}')
    return 1
  if len(last) < args.last:
    print(f'FAIL: {len(scores)} test returns in {args.minutes:g} minutes, {args.last} needed; give it '
          f'more --minutes. Run directory: {logdir}')
    return 1
  mean = sum(last) / len(last)
  if mean <= limit:
    print(f'FAIL: the last {len(last)} test returns average {mean:.1f}, not above {limit:.1f}. Run '
          f'directory: {logdir}')
    return 1
  print(f'PASS: the last {len(last)} test returns average {mean:.1f}, above {limit:.1f} '
        f'({len(scores)} test returns).')
  if not args.logdir:
    shutil.rmtree(logdir, ignore_errors=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
