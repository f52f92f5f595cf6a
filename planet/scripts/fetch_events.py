"""Exports scalar summaries of many log directories to CSV files.

  python3 -m planet.scripts.fetch_events --logdirs 'logs/*/00001' --outdir csv [--tags 'trainer*score']

Every log directory matching the --logdirs glob is searched for event files, in itself and in all of its
subfolders (a run has `train/` and `test/`). A run's `metrics.jsonl` holds the scalars of its `train/`
and `test/` folders and is read instead of their event files (much faster: those hold images and GIFs);
the event files are read for other folders and for runs without it. For every folder and every tag
matching --tags (an fnmatch glob) whose values are scalars, one file is written:

  <outdir>/<clean(logdir)>___<clean(subfolder)>___<clean(tag)>.csv

with the header `wall_time,step,value` and one row per step (all of them, sorted). `subfolder` is
the folder's path relative to the log directory (`train`, `test`), or `.` for events directly in the log
directory; `clean` replaces every character outside [A-Za-z0-9_] with `_`. For example the test score of
`logs/cheetah/00001` goes to `logs_cheetah_00001___test___trainer_test_score.csv`. Tags whose values are
not scalars (images, GIFs, histograms, text) are skipped. A log directory that already has outputs in
--outdir is skipped unless --force True.
"""

import concurrent.futures
import csv
import glob
import io
import os
import random
import re
import sys

from planet.tools import atomic
from planet.tools import cli
from planet.tools import events
from planet.tools import metrics


def clean(text):
  return re.sub(r'[^A-Za-z0-9_]', '_', text)


def _event_folders(logdir):
  """The folders under `logdir` (itself included) that hold event files, relative to it."""
  for folder, _, names in sorted(os.walk(logdir)):
    if any('tfevents' in name for name in names):
      yield os.path.relpath(folder, logdir)


def _read(logdir, pattern):
  """({(subfolder, tag): [(wall_time, step, value)]}, {skipped non-scalar tags}). A run's metrics.jsonl
  gives the values of its phase folders (`train`, `test`); other folders, and runs without it, are
  read from their event files."""
  result, skipped, phases = {}, set(), {}
  path = os.path.join(logdir, metrics.FILENAME)
  if os.path.exists(path):
    phases = metrics.read(path, pattern)
    for phase, tags in phases.items():
      result.update({(phase, tag): rows for tag, rows in tags.items()})
  for folder in _event_folders(logdir):
    if folder not in phases:
      found = events.read(os.path.join(logdir, folder), pattern)
      result.update({(folder, tag): rows for tag, rows in found.scalars.items()})
      skipped |= found.skipped
  return result, skipped


def scalars_by_folder(logdir, pattern):
  """{(subfolder, tag): [(wall_time, step, value)]} of the scalar tags under `logdir` matching
  `pattern`; `subfolder` is relative to `logdir` ('.' for `logdir` itself)."""
  return _read(logdir, pattern)[0]


def scalars(logdir, pattern):
  """{tag: [(wall_time, step, value)]} of the scalar tags matching `pattern` in all event files under
  `logdir`, sorted by step. Meant for one event folder (e.g. a run's `test/`): the values of a tag in
  several subfolders are merged."""
  merged = {}
  for (_, tag), rows in scalars_by_folder(logdir, pattern).items():
    merged.setdefault(tag, []).extend(rows)
  return {tag: sorted(rows, key=lambda row: row[1]) for tag, rows in merged.items()}


def export(logdir, outdir, pattern, force):
  prefix = os.path.join(outdir, clean(logdir))
  if not force and glob.glob(glob.escape(prefix) + '___*'):
    print(f'Exists: {logdir}')
    return []
  values, skipped = _read(logdir, pattern)
  written = []
  for (folder, tag), rows in sorted(values.items()):
    path = f'{prefix}___{clean(folder)}___{clean(tag)}.csv'
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(['wall_time', 'step', 'value'])
    writer.writerows(rows)
    atomic.write(path, text.getvalue())
    written.append(path)
  note = f' (skipped {len(skipped)} non-scalar tags)' if skipped else ''
  print(f'Exported {len(written)} CSV files of {logdir}{note}.')
  return written


def _check(args, outdir):
  """What is wrong with the arguments (one line), before anything is read or written; or None."""
  if args.workers < 1:
    return f'--workers {args.workers}: allowed: a positive number of threads.'
  if os.path.exists(outdir) and not os.path.isdir(outdir):
    return f'--outdir {args.outdir!r} is a file; allowed: a folder (it is created if missing).'
  return None


def main(argv=None):
  parser = cli.Parser(__doc__)
  parser.add_argument('--logdirs', required=True, help='glob of log directories (~ is expanded)')
  parser.add_argument('--tags', default='trainer*score',
                      help="fnmatch glob over tag names (default: trainer*score; '*' for all)")
  parser.add_argument('--outdir', required=True, help='folder for the CSV files (created if missing)')
  parser.add_argument('--force', type=cli.strict_bool, default=False,
                      help='True: export directories that already have outputs again')
  parser.add_argument('--workers', type=int, default=10, help='log directories read in parallel')
  args = parser.parse_args(argv)
  outdir = os.path.expanduser(args.outdir)
  problem = _check(args, outdir)
  if problem:
    print(f'error: {problem}', file=sys.stderr)
    return 2
  logdirs = [d for d in glob.glob(os.path.expanduser(args.logdirs)) if os.path.isdir(d)]
  if not logdirs:
    print(f'error: --logdirs {args.logdirs!r}: no directory matches.', file=sys.stderr)
    return 2
  try:
    os.makedirs(outdir, exist_ok=True)
  except OSError as e:
    print(f'error: --outdir {args.outdir!r}: cannot create it ({e.strerror}).', file=sys.stderr)
    return 2
  random.shuffle(logdirs)
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
