"""Kills a seeded debug run at random moments and checks that it ends as if it had never been killed.

  python3 scripts/soak.py [--kills 20] [--max_steps 700] [--seed 7] [--isolate_envs process]

It first runs the same params without interruption (the reference). Then it starts the run, kills it
with SIGKILL --kills times (at random moments, some while an episode or a checkpoint is being written:
it watches for their temp files, and some soon after a new checkpoint is on disk), reruns the same
command after each kill, and finally lets it finish. It prints, and exits 1 when any fails:

  every episode file loads; every episode is distinct (content hash); the train and test episode counts
  equal the reference's; the events hold every score step of the reference exactly once; metrics.jsonl
  has the reference's lines (phase and step), each once, and no line cut short; the checkpoints left on
  disk are the reference's (the same steps, none leaked by a resume, no data file without its index);
  the checkpoint a resume starts from never goes back; no temp files are left; one DONE and no FAIL.

Not part of the test suite (it takes about 10 minutes on 2 cores); run it after touching the trainer,
the runs or the episode store.
"""

import argparse
import glob
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def command(logdir, args):
  params = (f'{{tasks: [dummy], max_steps: {args.max_steps}, checkpoint_every: 20, seed: {args.seed}, '
            f'isolate_envs: {args.isolate_envs}}}')
  return [sys.executable, '-m', 'planet.scripts.train', '--logdir', logdir, '--config', 'debug',
          '--params', params]


def run_to_end(logdir, args, log):
  result = subprocess.run(command(logdir, args), cwd=REPO, capture_output=True, text=True)
  log.write(result.stdout + result.stderr)
  return result.returncode


def writing(run):
  """Which write is in progress: an episode's or a checkpoint's temp file, or None."""
  if glob.glob(os.path.join(run, '*_episodes', '.*.tmp')):
    return 'episode'
  if glob.glob(os.path.join(run, 'model.ckpt-*_temp*')):
    return 'checkpoint'
  return None


def kill_once(logdir, args, rng, log_path):
  """Starts the run and kills it once it trains: after a random time, when an episode or a checkpoint
  write starts, or a random moment (0-3 s) after a new checkpoint is on disk, while old ones are being
  deleted or soon after (`saved`; it waits as long as it takes, so the run gets past its checkpoints
  also on a slow machine). Returns (what was being written when it died, or `saved`; the exit code if
  the run ended first)."""
  run = os.path.join(logdir, '00001')
  mode = rng.choice(['random', 'random', 'episode', 'checkpoint', 'saved'])
  newest = checkpoint_steps(run)[-1:]
  offset = os.path.getsize(log_path)
  with open(log_path, 'a') as log:
    process = subprocess.Popen(command(logdir, args), cwd=REPO, stdout=log, stderr=log)
  started = None
  during = None
  while process.poll() is None:
    if started is None:
      with open(log_path) as f:
        f.seek(offset)
        if 'Phase ' in f.read():  # Training (or replaying) has begun: start the clock.
          started = time.time()
          deadline = started + (rng.uniform(0.5, 12) if mode == 'random' else
                                float('inf') if mode == 'saved' else 60)
      time.sleep(0.05)
      continue
    if mode == 'saved' and deadline == float('inf') and checkpoint_steps(run)[-1:] != newest:
      deadline = time.time() + rng.uniform(0, 3)
    now = writing(run)
    if (mode in ('episode', 'checkpoint') and now == mode) or time.time() > deadline:
      during = 'saved' if mode == 'saved' else now
      break
    time.sleep(0.001 if mode in ('episode', 'checkpoint') else 0.02)
  if process.poll() is not None:
    return None, process.returncode
  process.send_signal(signal.SIGKILL)
  process.wait()
  return during, None


def digest(episode):
  return hashlib.sha1(b''.join(episode[k].tobytes() for k in sorted(episode))).hexdigest()


def score_steps(run):
  from tensorboard.backend.event_processing import event_accumulator
  accumulator = event_accumulator.EventAccumulator(
      os.path.join(run, 'test'), size_guidance={'tensors': 0})
  accumulator.Reload()
  if 'trainer/test/score' not in accumulator.Tags()['tensors']:
    return []
  return [event.step for event in accumulator.Tensors('trainer/test/score')]


def checkpoint_steps(run):
  return sorted(int(path.split('-')[-1].split('.')[0])
                for path in glob.glob(os.path.join(run, 'model.ckpt-*.index')))


def orphans(run):
  """Checkpoint data files without their index (a deletion that was killed halfway)."""
  return [p for p in glob.glob(os.path.join(run, 'model.ckpt-*.data-*'))
          if not os.path.exists(p.split('.data-')[0] + '.index')]


def metrics_layout(run):
  """(phase, step) of every line of a run's metrics.jsonl, or None when its last line is cut short."""
  from planet.tools import metrics
  path = os.path.join(run, metrics.FILENAME)
  with open(path, 'rb') as f:
    if not f.read().endswith(b'\n'):
      return None
  return [(line['phase'], line['step']) for line in metrics.lines(path)]


def resumed_steps(text):
  return [int(step) for step in re.findall(r'^Resuming from \S+ at step (\d+)\.$', text, re.M)]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--kills', type=int, default=20)
  parser.add_argument('--max_steps', type=int, default=700)
  parser.add_argument('--seed', type=int, default=7, help='seed of the run and of the kill moments')
  parser.add_argument('--isolate_envs', default='process', choices=['none', 'thread', 'process'])
  parser.add_argument('--logdir', help='where to put the two runs (default: a temp folder, removed)')
  args = parser.parse_args()
  base = args.logdir or tempfile.mkdtemp(prefix='soak-')
  os.makedirs(base, exist_ok=True)
  rng = random.Random(args.seed)
  from planet.tools import episodes

  reference, killed = os.path.join(base, 'reference'), os.path.join(base, 'killed')
  for path in (reference, killed):
    shutil.rmtree(path, ignore_errors=True)
  start = time.time()
  with open(os.path.join(base, 'reference.log'), 'w') as log:
    code = run_to_end(reference, args, log)
  print(f'reference run: exit {code} in {time.time() - start:.0f} s', flush=True)
  log_path = os.path.join(base, 'killed.log')
  kills, during = 0, []
  open(log_path, 'w').close()
  while kills < args.kills:
    what, code = kill_once(killed, args, rng, log_path)
    if code is not None:
      print(f'the run finished before kill {kills + 1} (exit {code}); stopping the kills early')
      break
    kills += 1
    during.append(what or 'nothing')
    steps = checkpoint_steps(os.path.join(killed, '00001'))
    what = 'soon after a new checkpoint' if what == 'saved' else f'while writing {what or "nothing"}'
    print(f'kill {kills:2d}: {what}; checkpoints on disk: {steps or "none"}', flush=True)
  with open(log_path, 'a') as log:
    for attempt in range(5):  # Rerun until DONE.
      code = run_to_end(killed, args, log)
      if os.path.exists(os.path.join(killed, '00001', 'DONE')) or code != 0:
        break
  with open(log_path) as f:
    text = f.read()
  resumes = resumed_steps(text)
  print(f'killed run: {kills} kills ({during.count("episode")} during an episode write, '
        f'{during.count("checkpoint")} during a checkpoint write, {during.count("saved")} soon after '
        f'a new checkpoint), last exit {code}, '
        f'{time.time() - start:.0f} s in all', flush=True)

  checks = []
  run_ref, run = os.path.join(reference, '00001'), os.path.join(killed, '00001')
  hashes, unreadable = [], []
  for phase in ('train', 'test'):
    for path in episodes.filenames(os.path.join(run, f'{phase}_episodes')):
      try:
        hashes.append(digest(episodes.load(path)))
      except ValueError:
        unreadable.append(path)
  checks.append(('every episode file loads', not unreadable, f'{len(unreadable)} unreadable'))
  checks.append(('every episode is distinct', len(set(hashes)) == len(hashes),
                 f'{len(set(hashes))} distinct of {len(hashes)}'))
  for phase in ('train', 'test'):
    ours = episodes.count(os.path.join(run, f'{phase}_episodes'))
    theirs = episodes.count(os.path.join(run_ref, f'{phase}_episodes'))
    checks.append((f'{phase} episodes as uninterrupted', ours == theirs, f'{ours} vs {theirs}'))
  ours, theirs = score_steps(run), score_steps(run_ref)
  checks.append(('every score step once', ours == theirs,
                 f'{len(ours)} scores at steps {ours[:3]}..{ours[-3:]} vs {len(theirs)}'))
  ours, theirs = checkpoint_steps(run), checkpoint_steps(run_ref)
  strays = orphans(run)
  checks.append(('checkpoints as uninterrupted', ours == theirs and not strays,
                 f'{len(ours)} at steps {ours} vs {len(theirs)} at {theirs}'
                 + (f'; {len(strays)} data files without an index' if strays else '')))
  ours, theirs = metrics_layout(run), metrics_layout(run_ref)
  checks.append(('metrics.jsonl: whole lines, each step once', ours == theirs and ours is not None,
                 'a line cut short' if ours is None else f'{len(ours)} lines vs {len(theirs or [])}'))
  checks.append(('resumes never went back', resumes == sorted(resumes),
                 f'resumed at steps {resumes}'))
  leftovers = (glob.glob(os.path.join(run, '**', '.*.tmp'), recursive=True) +
               glob.glob(os.path.join(run, '**', '*.tmp*'), recursive=True) +
               glob.glob(os.path.join(run, '*_temp*')))
  checks.append(('no temp leftovers', not leftovers, f'{len(leftovers)} left: {leftovers[:3]}'))
  done = os.path.exists(os.path.join(run, 'DONE'))
  fail = os.path.exists(os.path.join(run, 'FAIL'))
  checks.append(('one DONE, no FAIL', done and not fail, f'DONE {done}, FAIL {fail}'))
  width = max(len(name) for name, _, _ in checks)
  for name, ok, detail in checks:
    print(f'{"ok  " if ok else "FAIL"}  {name:<{width}}  {detail}')
  if not args.logdir:
    shutil.rmtree(base, ignore_errors=True)
  return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == '__main__':
  sys.exit(main())
