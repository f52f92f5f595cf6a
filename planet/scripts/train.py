"""Trains a PlaNet agent: `python3 -m planet.scripts.train --logdir DIR [--config C] [--params YAML]`.

Each run lives in `<logdir>/00001`, ...; rerunning the same command resumes a run that has no DONE.
"""

import argparse
import functools
import logging
import os
import random
import signal
import sys

import planet  # noqa: F401  (sets TF_ENABLE_ONEDNN_OPTS and MUJOCO_GL before TensorFlow loads)
from planet.errors import ConfigError
from planet.scripts import configs
from planet.tools import cli

log = logging.getLogger('planet')



def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--logdir', required=True, help='Base directory of the experiment.')
  parser.add_argument('--num_runs', type=int, default=1, help='Runs of the experiment (0: unbounded).')
  parser.add_argument('--config', default='default',
                      help='default, debug, or the path of a YAML file of params (configs/*.yaml).')
  parser.add_argument('--params', default='{}', help="YAML mapping of params, '#' is read as ','.")
  parser.add_argument('--ping_every', type=float, default=0,
                      help='Seconds between PING heartbeats; 0 disables them.')
  parser.add_argument('--resume_runs', type=cli.strict_bool, default=True, help='True or False.')
  return parser.parse_args(argv)


def process(params, logdir):
  """One run: params file, seeds, seed episodes, then the trainer's scores."""
  import numpy as np
  import tensorflow as tf
  from planet.control import simulate
  from planet.scripts import tasks
  from planet.training import trainer

  os.makedirs(logdir, exist_ok=True)
  path = os.path.join(logdir, 'params.yaml')
  if os.path.exists(path):
    stored = configs.resolve(configs.load(path))  # Fills in keys added since the run started.
    changed = sorted(k for k in params if k != 'seed' and params[k] != stored.get(k))
    if changed:
      log.warning(f'Resuming with the run\'s stored params; ignoring new values for: {", ".join(changed)}.')
    params = stored
  else:
    if params['seed'] is None:
      params = {**params, 'seed': random.randrange(2 ** 31)}
    configs.dump(params, path)
  seed = params['seed']
  np.random.seed(seed)
  tf.random.set_seed(seed)
  task_list = tasks.tasks(params)
  simulate.collect_initial_episodes(
      task_list, os.path.join(logdir, 'train_episodes'), os.path.join(logdir, 'test_episodes'),
      params['num_seed_episodes'], seed)
  yield from trainer.Trainer(params, logdir, task_list).run()


def _interrupt(signum, frame):
  raise KeyboardInterrupt(f'signal {signum}')


def main(argv=None):
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
  signal.signal(signal.SIGTERM, _interrupt)
  experiment = running.Experiment(
      args.logdir, functools.partial(process, params), num_runs=args.num_runs,
      ping_every=args.ping_every, resume_runs=args.resume_runs)
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
    print(f'error: {type(e).__name__}: {e}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
