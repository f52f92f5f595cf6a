"""Measures the returns of two policies that need no learning, for reference lines beside learning curves.

  python3 scripts/baselines.py --task cartpole_balance [--episodes 10] [--seed 0] [--csv FILE]

`random` draws each action uniformly from the action space, `zeros` always acts with 0 (in cartpole:
no force). Each episode runs the task's own environment (its action repeat and episode length, as a run
of the train script collects them) with its own seed (--seed, --seed + 1, ...; the random actions are
seeded too), so the figures repeat exactly. Prints `<task> <policy>: <mean> +- <std> over N episodes`
for each policy; with --csv it also writes (or updates) the rows `task,policy,episodes,mean,std,seed`
of that file, which `planet.scripts.plot_scores --baselines FILE` draws as reference lines.
"""

import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import planet  # noqa: F401,E402  (environment defaults before MuJoCo loads)
from planet.tools import cli  # noqa: E402

POLICIES = ('random', 'zeros')
FIELDS = ('task', 'policy', 'episodes', 'mean', 'std', 'seed')


def episode_return(env, policy, seed):
  """The return of one episode of `env` reset with `seed`, acting with `policy(random)`."""
  random = np.random.RandomState(seed)
  env.reset(seed=seed)
  total, done = 0.0, False
  while not done:
    _, reward, terminated, truncated, _ = env.step(policy(random))
    total += float(reward)
    done = terminated or truncated
  return total


def measure(task, episodes, seed=0):
  """{policy: [returns]} of `episodes` episodes of each policy on the Task `task`."""
  env = task.env_ctor()
  space = env.action_space
  policies = {
      'random': lambda random: random.uniform(space.low, space.high).astype(np.float32),
      'zeros': lambda random: np.zeros(space.shape, np.float32),
  }
  try:
    return {name: [episode_return(env, policy, seed + index) for index in range(episodes)]
            for name, policy in policies.items()}
  finally:
    env.close()


def update_csv(path, rows):
  """Writes `rows` into the CSV at `path`, replacing the rows of the same task and policy, atomically."""
  kept = []
  if os.path.exists(path):
    with open(path, newline='') as f:
      replaced = {(row['task'], row['policy']) for row in rows}
      kept = [row for row in csv.DictReader(f) if (row['task'], row['policy']) not in replaced]
  tmp = f'{path}.tmp-{os.getpid()}'
  with open(tmp, 'w', newline='') as f:
    writer = csv.DictWriter(f, FIELDS)
    writer.writeheader()
    for row in sorted(kept + rows, key=lambda row: (row['task'], row['policy'])):
      writer.writerow(row)
  os.replace(tmp, path)


def main(argv=None):
  parser = cli.Parser(__doc__)
  parser.add_argument('--task', required=True, help='a task name, as in the tasks param')
  parser.add_argument('--episodes', type=int, default=10, help='episodes per policy (default: 10)')
  parser.add_argument('--seed', type=int, default=0, help='seed of the first episode (default: 0)')
  parser.add_argument('--csv', help='a CSV file of baselines to write the rows into')
  args = parser.parse_args(argv)
  from planet.scripts import tasks as tasks_lib
  if args.task not in tasks_lib.TASKS:
    parser.error(f'--task {args.task!r}: allowed: {", ".join(tasks_lib.TASKS)}.')
  if args.episodes < 1:
    parser.error(f'--episodes {args.episodes}: allowed: a positive number of episodes.')
  if args.seed < 0:
    parser.error(f'--seed {args.seed}: allowed: 0 or a positive integer.')
  if args.csv and not os.path.isdir(os.path.dirname(os.path.abspath(args.csv))):
    parser.error(f'--csv {args.csv!r}: its folder does not exist.')
  returns = measure(tasks_lib.make(args.task), args.episodes, args.seed)
  rows = []
  for policy, values in returns.items():
    print(f'{args.task} {policy}: {np.mean(values):.1f} +- {np.std(values):.1f} over {len(values)} '
          f'episodes (seeds {args.seed}..{args.seed + args.episodes - 1})', flush=True)
    rows.append({'task': args.task, 'policy': policy, 'episodes': len(values),
                 'mean': f'{np.mean(values):.1f}', 'std': f'{np.std(values):.1f}',
                 'seed': args.seed})
  if args.csv:
    update_csv(args.csv, rows)
    print(f'Wrote {args.csv}.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
