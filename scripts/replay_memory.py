"""Resident memory of the trainer's input pipeline against the number of episodes on disk.

  python3 scripts/replay_memory.py [--counts 10,100,1000,10000] [--loaders recent,cache] [--batches 30]
                                   [--params '{replay_size: 600000}'] [--limit_gb 10] [--settle 20]
                                   [--new_per_batch 0] [--wait_steps 0]

The episodes are walker_walk's, the largest of the paper's tasks: one episode of random actions is
collected and saved as the trainer saves its episodes (501 frames of 64x64x3 uint8 images plus the state
components, action and reward: 6.2 MB in memory, 1.5 MB compressed), then hard-linked under the names of
a run's train episodes, oldest first. So N episodes take the disk of one, while the loaders read and hold
each name on its own, as they would distinct files.

For each count and loader, a fresh process builds the data set as the trainer does (planet/scripts/build.py
`dataset` over the resolved params of walker_walk plus --params), pulls --batches batches of [50, 50] (one
round of `loader_every` 1000 episodes is 20 batches; the `recent` loader's first round is empty and then
loads the files), writing --new_per_batch new episode files after each, waits --settle seconds for the
prefetch buffers to fill (as they do while a train step runs), and prints its resident memory (VmRSS) and
its peak (VmHWM). A count whose kept episodes would exceed --limit_gb is not run (the machine is shared);
its row says what it would need.

--wait_steps N: then, at the largest count and with the first loader, a process as the trainer is at
[50, 50]: the train and test data sets (the test one over the same files), the collecting agent (one plan)
and a walker env, and the time `next(iterator)` blocks before each of N full-size train steps
(scripts/benchmark.py `wait_per_step`) while a new episode file appears after every step (so the loader
loads and evicts); with its resident memory at the end.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TASK = 'walker_walk'


def memory_gb():
  """(resident, peak resident) memory of this process in GB, from /proc/self/status."""
  values = {}
  with open('/proc/self/status') as f:
    for line in f:
      key, _, rest = line.partition(':')
      if key in ('VmRSS', 'VmHWM'):
        values[key] = int(rest.split()[0]) * 1024 / 1e9
  return values['VmRSS'], values['VmHWM']


def resolved(overrides):
  from planet.scripts import configs
  return configs.resolve({'tasks': [TASK], **overrides})


def write_template(folder):
  """Collects one walker_walk episode of random actions into `folder`; returns its path."""
  from planet.control import simulate
  from planet.scripts import build
  from planet.tools import episodes
  simulate.random_episodes(build.task(TASK, resolved({})), folder, 1, seed=0)
  return episodes.filenames(folder)[0]


def link_name(ordinal):
  """A train episode's name; ordinals in order are episodes in the order they were written."""
  return f'20250101T000000-train_main_{TASK}-{ordinal:06d}.npz'


def populate(directory, template, count):
  """Hard-links `template` into `directory` until it holds `count` episodes."""
  add_episodes(directory, template, count - len(os.listdir(directory)))


def kept_episodes(params, count, frames):
  """How many episodes of `frames` frames the loaders keep of `count`: all, or the newest within the
  params' replay size (if the params have one)."""
  size = params.get('replay_size')
  return count if size is None else min(count, size // frames)


def child_memory(directory, template, overrides, batches, new_per_batch, settle):
  """Runs in a fresh process: the data set as the trainer builds it, `batches` batches pulled, with
  `new_per_batch` new episode files written after each, then `settle` seconds for its buffers to fill
  (as they do while a train step runs)."""
  from planet.scripts import build
  start = time.perf_counter()
  iterator = iter(build.dataset(resolved(overrides), directory, seed=0))
  for _ in range(batches):
    next(iterator)
    add_episodes(directory, template, new_per_batch)
  seconds = time.perf_counter() - start
  time.sleep(settle)
  rss, peak = memory_gb()
  return {'rss_gb': rss, 'peak_gb': peak, 'seconds': seconds}


def add_episodes(directory, template, amount):
  """Links `amount` more episodes after those in `directory` (written later: newer)."""
  first = len(os.listdir(directory))
  for ordinal in range(first, first + amount):
    os.link(template, os.path.join(directory, link_name(ordinal)))


def child_wait(directory, template, overrides, steps):
  """Runs in a fresh process: the input wait around full-size train steps, a new episode per step,
  with the test episodes' data set alive beside it (as in the trainer; over the same files)."""
  import benchmark
  from planet.scripts import build
  from planet.tools import dataset
  params = resolved(overrides)
  action_size = dataset.spec(directory, params['batch_shape'][1])['action'].shape[-1]
  test = iter(build.dataset(params, directory, seed=1, phase='test'))
  next(test)
  env = build.task(TASK, params).env_ctor(seed=0)  # and the agent that collects, planning once
  observation, _ = env.reset()
  agent = build.agent(params, build.model(params, action_size))
  agent.policy({'image': observation['image'][None]}, np.float32(0.0)).numpy()
  memory = {}

  def after_step(index):
    del index
    add_episodes(directory, template, 1)
    memory['rss_gb'], memory['peak_gb'] = memory_gb()

  wait, longest, step = benchmark.wait_per_step(params, directory, action_size, steps, after_step)
  return {'wait_mean_s': wait, 'wait_max_s': longest, 'train_step_s': step,
          'wait_share_of_step': wait / step, **memory}


def run_child(*args):
  command = [sys.executable, os.path.abspath(__file__), '--child', json.dumps(args)]
  out = subprocess.run(command, capture_output=True, text=True)
  if out.returncode:
    sys.exit(f'child {args[0]} failed:\n{out.stderr[-3000:]}')
  return json.loads(out.stdout.strip().splitlines()[-1])


def cpu():
  """lscpu's model name, family and model."""
  fields = dict(line.split(':', 1) for line in subprocess.run(
      ['lscpu'], capture_output=True, text=True).stdout.splitlines() if ':' in line)
  return (f'{fields.get("Model name", "?").strip()} (family {fields.get("CPU family", "?").strip()}, '
          f'model {fields.get("Model", "?").strip()})')


def uptime():
  return subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--counts', default='10,100,1000,10000')
  parser.add_argument('--loaders', default='recent,cache')
  parser.add_argument('--batches', type=int, default=30)
  parser.add_argument('--params', default='{}', help='params overrides (YAML), besides tasks: [walker_walk]')
  parser.add_argument('--limit_gb', type=float, default=10.0,
                      help='skip counts whose kept episodes would need more memory than this')
  parser.add_argument('--new_per_batch', type=int, default=0,
                      help='new episode files written after each batch (the loaders load and evict)')
  parser.add_argument('--settle', type=float, default=20.0,
                      help='seconds to let the prefetch buffers fill before reading the memory')
  parser.add_argument('--wait_steps', type=int, default=0)
  parser.add_argument('--folder', help='where to write the episodes (default: a temporary folder, removed)')
  parser.add_argument('--child', help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    kind, *rest = json.loads(args.child)
    result = child_memory(*rest) if kind == 'memory' else child_wait(*rest)
    print(json.dumps(result))
    return
  from planet.scripts import configs
  from planet.tools import episodes
  overrides = configs.parse_params(args.params)
  counts = sorted(int(x) for x in args.counts.split(','))
  loaders = args.loaders.split(',')
  folder = args.folder or tempfile.mkdtemp(prefix='replay-memory-')
  directory = os.path.join(folder, 'train_episodes')
  os.makedirs(directory, exist_ok=True)
  try:
    template = write_template(os.path.join(folder, 'template'))
    episode = episodes.load(template)
    frames = len(episode['action'])
    episode_gb = sum(value.nbytes for value in episode.values()) / 1e9
    print(f'CPU: {cpu()}; {uptime()}')
    print(f'One {TASK} episode: {frames} frames, {episode_gb * 1e3:.1f} MB in memory '
          f'({", ".join(f"{k} {v.shape} {v.dtype}" for k, v in episode.items())}), '
          f'{os.path.getsize(template) / 1e6:.2f} MB on disk.')
    print(f'params overrides: {overrides}; {args.batches} batches of '
          f'{resolved(overrides)["batch_shape"]} per measurement.\n')
    print(f'{"episodes on disk":>16} {"loader":>7} {"kept":>6} {"RSS GB":>8} {"peak GB":>8} {"seconds":>8}')
    for count in counts:
      populate(directory, template, count)
      for loader in loaders:
        params = resolved({**overrides, 'loader': loader})
        kept = kept_episodes(params, count, frames)
        if kept * episode_gb > args.limit_gb:
          print(f'{count:>16} {loader:>7} {kept:>6}   not run: would hold {kept * episode_gb:.1f} GB of '
                f'episodes (--limit_gb {args.limit_gb:g})', flush=True)
          continue
        row = run_child('memory', directory, template, {**overrides, 'loader': loader}, args.batches,
                        args.new_per_batch, args.settle)
        print(f'{count:>16} {loader:>7} {kept:>6} {row["rss_gb"]:>8.2f} {row["peak_gb"]:>8.2f} '
              f'{row["seconds"]:>8.1f}', flush=True)
    if args.wait_steps:
      count, loader = counts[-1], loaders[0]
      params = resolved({**overrides, 'loader': loader})
      kept = kept_episodes(params, count + args.wait_steps + 2, frames)
      if kept * episode_gb > args.limit_gb:
        print(f'\nInput wait not run: {kept} episodes would hold {kept * episode_gb:.1f} GB.')
      else:
        print(f'\nInput wait at {params["batch_shape"]}, {count} episodes on disk, loader {loader}, '
              f'{args.wait_steps} train steps, a new episode file after each; {uptime()}', flush=True)
        row = run_child('wait', directory, template, {**overrides, 'loader': loader}, args.wait_steps)
        print(f'  next(iterator): mean {row["wait_mean_s"]:.4f} s, max {row["wait_max_s"]:.4f} s; '
              f'train step mean {row["train_step_s"]:.2f} s; wait {100 * row["wait_share_of_step"]:.2f}% '
              f'of the step')
        print(f'  resident memory at the end {row["rss_gb"]:.2f} GB, peak {row["peak_gb"]:.2f} GB; {uptime()}')
  finally:
    if not args.folder:
      shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
  main()
