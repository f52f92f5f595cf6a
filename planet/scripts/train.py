"""Trains a PlaNet agent: `python3 -m planet.scripts.train --logdir DIR [--config C] [--params YAML]`.

Each run lives in `<logdir>/00001`, ...; rerunning the same command resumes a run that has neither
DONE nor FAIL from its latest checkpoint. A run that failed keeps FAIL (with its traceback) and makes
the command exit 1; `--retry_failed True` resumes it.
"""

import functools
import logging
import os
import random
import sys

from planet.errors import ConfigError
from planet.scripts import configs
from planet.tools import cli
from planet.tools import quiet_start

log = logging.getLogger('planet')


def parse_args(argv=None):
  parser = cli.Parser(__doc__)
  parser.add_argument('--logdir', required=True, help='Base directory of the experiment.')
  parser.add_argument('--num_runs', type=int, default=1, help='Runs of the experiment (0: unbounded).')
  parser.add_argument('--config', default='default',
                      help='default, debug, or the path of a YAML file of params (configs/*.yaml).')
  parser.add_argument('--params', default='{}', help="YAML mapping of params, '#' is read as ','.")
  parser.add_argument('--ping_every', type=float, default=0,
                      help='Seconds between PING heartbeats; 0 disables them.')
  parser.add_argument('--resume_runs', type=cli.strict_bool, default=True, help='True or False.')
  parser.add_argument('--retry_failed', type=cli.strict_bool, default=False,
                      help='True: resume runs that failed (have FAIL) from their latest checkpoint.')
  return parser.parse_args(argv)


def run_params(params, logdir):
  """The params of the run in `logdir`: those stored in its params.yaml when it exists (a resume),
  else `params` with a seed drawn if it has none, written there."""
  path = os.path.join(logdir, 'params.yaml')
  if os.path.exists(path):
    stored = configs.load_run(path)  # Fills in keys added since the run started.
    changed = sorted(k for k in params if k != 'seed' and params[k] != stored.get(k))
    if changed:
      log.warning(f'Resuming with the run\'s stored params; ignoring new values for: {", ".join(changed)}.')
    return stored
  if params['seed'] is None:
    params = {**params, 'seed': random.randrange(2 ** 31)}
  os.makedirs(logdir, exist_ok=True)
  configs.dump(params, path)
  return params


def prepare(params, logdir):
  """A run made ready in `logdir`: its params file written, its seed episodes collected (those on disk
  kept). Returns (the run's params, its trainer)."""
  from planet.control import simulate
  from planet.scripts import build

  params = run_params(params, logdir)
  task_list = build.tasks(params)
  simulate.collect_initial_episodes(
      task_list, os.path.join(logdir, 'train_episodes'), os.path.join(logdir, 'test_episodes'),
      params['num_seed_episodes'], params['seed'], params['isolate_envs'])
  return params, build.trainer(params, logdir, task_list)


def process(params, logdir):
  """One run: params file, seed episodes, then the trainer's scores."""
  _, trainer = prepare(params, logdir)
  yield from trainer.run()


def _report_failure(logdir, line):
  print(f'error: run {logdir} failed: {line}; the traceback is in {os.path.join(logdir, "FAIL")}; '
        'rerun with --retry_failed True to resume it from its checkpoint.', file=sys.stderr)


def main(argv=None):
  quiet_start.install()
  args = parse_args(argv)
  handler = logging.StreamHandler(sys.stdout)
  handler.setFormatter(logging.Formatter('%(message)s'))
  log.handlers[:] = [handler]
  log.setLevel(logging.INFO)
  log.propagate = False
  try:
    params = configs.resolve(configs.parse_params(args.params), args.config)
    if args.num_runs < 0:
      raise ConfigError(f'--num_runs {args.num_runs}: allowed: 0 (unbounded) or a positive number.')
    if args.ping_every < 0:
      raise ConfigError(f'--ping_every {args.ping_every}: allowed: 0 (off) or a positive number.')
  except ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  from planet.training import running
  cli.note_interrupts()
  experiment = running.Experiment(
      args.logdir, functools.partial(process, params), num_runs=args.num_runs,
      ping_every=args.ping_every, resume_runs=args.resume_runs, retry_failed=args.retry_failed)
  run = None
  try:
    for run in experiment:
      for _ in run:
        pass
  except ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print('Interrupted; rerun the same command to resume.', file=sys.stderr)
    return 130
  except Exception as e:  # The traceback is in the log and in the run's FAIL file.
    line = running.failure(run.logdir) if run else None
    _report_failure(run.logdir if run else args.logdir, line or f'{type(e).__name__}: {e}')
    return 1
  for logdir in experiment.done:
    number = int(os.path.basename(logdir))
    log.info(f'Run {os.path.basename(logdir)} in {args.logdir} is done; use --num_runs '
             f'{max(args.num_runs, number) + 1} or another --logdir for a new run.')
  if experiment.failed:
    for logdir, line in sorted(experiment.failed.items()):
      _report_failure(logdir, line)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
