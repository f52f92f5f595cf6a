"""Exports scalar summaries of many log directories to CSV files (spec 1.7).

  python3 -m planet.scripts.fetch_events --logdirs 'logs/*/00001' --outdir csv [--tags 'trainer*score']

For every log directory matching the glob and every scalar tag matching --tags (an fnmatch glob), writes
`<outdir>/<clean(logdir)>___<clean(tag)>.csv` with the header `wall_time,step,value`; `clean` replaces
every character outside [A-Za-z0-9_] with `_`. A log directory that already has outputs is skipped
unless --force True.
"""

import argparse
import concurrent.futures
import csv
import fnmatch
import glob
import os
import random
import re
import sys

from tensorboard.backend.event_processing import event_multiplexer
from tensorboard.util import tensor_util
from planet.tools import cli


def clean(text):
  return re.sub(r'[^A-Za-z0-9_]', '_', text)


def scalars(logdir, pattern):
  """{tag: [(wall_time, step, value)]} for the scalar tags under `logdir` that match `pattern`."""
  multiplexer = event_multiplexer.EventMultiplexer(size_guidance={'tensors': 0, 'scalars': 0})  # all
  multiplexer.AddRunsFromDirectory(logdir)
  multiplexer.Reload()
  result = {}
  for run, tags in multiplexer.Runs().items():
    for tag in tags.get('tensors', []):
      if fnmatch.fnmatch(tag, pattern):
        events = multiplexer.Tensors(run, tag)
        result.setdefault(tag, []).extend(
            (e.wall_time, e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events)
    for tag in tags.get('scalars', []):
      if fnmatch.fnmatch(tag, pattern):
        result.setdefault(tag, []).extend(
            (e.wall_time, e.step, e.value) for e in multiplexer.Scalars(run, tag))
  return {tag: sorted(rows, key=lambda row: row[1]) for tag, rows in result.items()}


def export(logdir, outdir, pattern, force):
  prefix = os.path.join(outdir, clean(logdir))
  if not force and glob.glob(glob.escape(prefix) + '*'):
    print(f'Exists: {logdir}')
    return []
  written = []
  for tag, rows in scalars(logdir, pattern).items():
    path = f'{prefix}___{clean(tag)}.csv'
    tmp = path + '.tmp'
    with open(tmp, 'w', newline='') as f:
      writer = csv.writer(f)
      writer.writerow(['wall_time', 'step', 'value'])
      writer.writerows(rows)
    os.replace(tmp, path)
    written.append(path)
  print(f'Exported {len(written)} tags of {logdir}.')
  return written



def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--logdirs', required=True, help='glob of log directories (~ is expanded)')
  parser.add_argument('--tags', default='trainer*score', help='fnmatch glob over tag names')
  parser.add_argument('--outdir', required=True)
  parser.add_argument('--force', type=cli.strict_bool, default=False)
  parser.add_argument('--workers', type=int, default=10)
  args = parser.parse_args(argv)
  logdirs = glob.glob(os.path.expanduser(args.logdirs))
  if not logdirs:
    print(f'error: no log directory matches {args.logdirs!r}', file=sys.stderr)
    return 2
  random.shuffle(logdirs)
  os.makedirs(os.path.expanduser(args.outdir), exist_ok=True)
  outdir = os.path.expanduser(args.outdir)
  failed = 0
  with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
    futures = {pool.submit(export, d, outdir, args.tags, args.force): d for d in logdirs}
    for future in concurrent.futures.as_completed(futures):
      try:
        future.result()
      except Exception as e:  # As the original: report and go on with the other directories.
        failed += 1
        print(f'error: {futures[future]}: {type(e).__name__}: {e}', file=sys.stderr)
  return 1 if failed else 0


if __name__ == '__main__':
  sys.exit(main())
