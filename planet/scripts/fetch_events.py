"""Exports scalar summaries of many log directories to CSV files.

  python3 -m planet.scripts.fetch_events --logdirs 'logs/*/00001' --outdir csv [--tags 'trainer*score']

Every log directory matching the --logdirs glob is searched for event files, in itself and in all of its
subfolders (a run has `train/` and `test/`). For every such folder and every tag matching --tags (an
fnmatch glob) whose values are scalars, one file is written:

  <outdir>/<clean(logdir)>___<clean(subfolder)>___<clean(tag)>.csv

with the header `wall_time,step,value` and one row per event (all events, sorted by step). `subfolder` is
the folder's path relative to the log directory (`train`, `test`), or `.` for events directly in the log
directory; `clean` replaces every character outside [A-Za-z0-9_] with `_`. For example the test score of
`logs/cheetah/00001` goes to `logs_cheetah_00001___test___trainer_test_score.csv`. Tags whose values are
not scalars (images, GIFs, histograms, text) are skipped. A log directory that already has outputs in
--outdir is skipped unless --force True.
"""

import concurrent.futures
import csv
import fnmatch
import glob
import os
import random
import re
import sys

import planet  # noqa: F401  (environment defaults before TensorBoard loads TensorFlow)
from planet.tools import cli
from tensorboard.backend.event_processing import event_multiplexer
from tensorboard.util import tensor_util




def clean(text):
  return re.sub(r'[^A-Za-z0-9_]', '_', text)


def _scalar(array):
  return array.ndim == 0 and array.dtype.kind in 'biuf'


def _read(logdir, pattern):
  """({(subfolder, tag): [(wall_time, step, value)]}, {skipped non-scalar tags})."""
  multiplexer = event_multiplexer.EventMultiplexer(size_guidance={'tensors': 0, 'scalars': 0})  # all
  multiplexer.AddRunsFromDirectory(logdir)
  multiplexer.Reload()
  result, skipped = {}, set()
  for run, tags in multiplexer.Runs().items():
    for tag in tags.get('tensors', []):
      if fnmatch.fnmatch(tag, pattern):
        values = [(e.wall_time, e.step, tensor_util.make_ndarray(e.tensor_proto))
                  for e in multiplexer.Tensors(run, tag)]
        if all(_scalar(value) for _, _, value in values):
          result.setdefault((run, tag), []).extend(
              (wall_time, step, float(value)) for wall_time, step, value in values)
        else:
          skipped.add(tag)
    for tag in tags.get('scalars', []):  # Summaries of the TF1 summary API.
      if fnmatch.fnmatch(tag, pattern):
        result.setdefault((run, tag), []).extend(
            (e.wall_time, e.step, e.value) for e in multiplexer.Scalars(run, tag))
  return {key: sorted(rows, key=lambda row: row[1]) for key, rows in result.items()}, skipped


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
    temp = path + '.tmp'
    with open(temp, 'w', newline='') as f:
      writer = csv.writer(f)
      writer.writerow(['wall_time', 'step', 'value'])
      writer.writerows(rows)
    os.replace(temp, path)
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
