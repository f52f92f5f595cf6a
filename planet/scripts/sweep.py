"""Runs experiments x tasks x seeds on a Ray cluster and writes a results table beside the paper's Table 1.

  python3 -m planet.scripts.sweep --logdir DIR --tasks cartpole_swingup,cheetah_run --seeds 5 \\
      [--experiments planet,random_collection,deterministic,stochastic] [--config CONFIG] [--params YAML] \\
      [--address auto|ray://HOST:PORT] [--gpus_per_run 1] [--cpus_per_run 2] [--max_retries 3]

Each run lives in DIR/<experiment>/<task>/<NNNNN> (NNNNN the seed index, 00001 up), laid out as a train
script run (params.yaml, episodes, events, checkpoints, PING, DONE or FAIL) plus log.txt, its log. A run's
params are, later ones winning: the defaults, --config, the experiment's preset (configs/<name>.yaml),
--params, its task and its seed. A preset that names its tasks (one_agent_all_tasks) is one run per seed
that trains one agent on all of them, in DIR/<experiment>/<task+task+...>/<NNNNN>. Without --address a Ray cluster is started on this machine. Every run
is one Ray task with the requested resources; a run whose process or node dies is retried from its
latest checkpoint up to --max_retries times, a run that raises gets FAIL and is not retried. Rerunning
the same command skips finished runs and resumes the others. At the end (or with --report_only)
DIR/results.md, DIR/results.csv and DIR/results_<task>.png are written.
"""

import functools
import logging
import os
import re
import socket
import sys
import threading
import time

from planet.errors import ConfigError
from planet.scripts import configs
from planet.scripts import results
from planet.tools import cli
from planet.tools import quiet_start
from planet.training import running as running_lib

PRESETS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       'configs')
INSTALL = "pip install -e '.[cluster]'"
ADDRESS = re.compile(r'^(auto|(ray://)?[A-Za-z0-9_.\-\[\]:]+:\d+)$')
POLL_SECONDS = 2.0
BEAT_SECONDS = 5.0
SCORES_EVERY = 60.0
STOP_TIMEOUT = 120.0




def parse_args(argv=None):
  parser = cli.Parser(__doc__)
  parser.add_argument('--logdir', required=True, help='Base directory of the sweep.')
  parser.add_argument('--tasks', help='Comma-separated task names, e.g. cartpole_swingup,cheetah_run.')
  parser.add_argument('--seeds', type=int, help='Runs per experiment and task (00001 .. NNNNN).')
  parser.add_argument('--experiments', default='planet',
                      help='Comma-separated presets in configs/ (planet, random_collection, '
                           'deterministic, stochastic, ...) or paths of .yaml files of params.')
  parser.add_argument('--config', default='default',
                      help='default, debug, or a YAML file of params: the base under every preset.')
  parser.add_argument('--params', default='{}',
                      help="YAML mapping of params for every run, over the preset; '#' is read as ','. "
                           'A `seed` S gives the runs the seeds S, S+1, ...; without it they get 1, 2, ...')
  parser.add_argument('--address', default=None,
                      help='Ray cluster to use: auto (the cluster this node belongs to), HOST:PORT or '
                           'ray://HOST:PORT. Default: start a Ray cluster on this machine.')
  parser.add_argument('--cpus_per_run', type=float, default=2, help='CPUs Ray reserves for each run.')
  parser.add_argument('--gpus_per_run', type=float, default=0,
                      help='GPUs Ray reserves for each run; a run sees only its own.')
  parser.add_argument('--max_retries', type=int, default=3,
                      help='Times a run whose process or node died is resumed from its checkpoint.')
  parser.add_argument('--retry_failed', type=cli.strict_bool, default=False,
                      help='True or False: resume runs that have FAIL (their FAIL is kept as FAIL.<n>).')
  parser.add_argument('--ping_every', type=float, default=0,
                      help='Seconds between PING heartbeats of a run; 0 disables them.')
  parser.add_argument('--report_only', action='store_true',
                      help='Only write the results of the runs in --logdir; start nothing.')
  return parser.parse_args(argv)


class Run:
  """One cell of the grid."""

  def __init__(self, logdir, experiment, task, index, params):
    from planet.scripts import tasks as tasks_lib
    self.experiment, self.task, self.index, self.params = experiment, task, index, params
    folder = '+'.join(map(tasks_lib.file_name, task.split('+')))  # gym:ALE/Pong-v5 -> gym_ALE_Pong_v5
    self.name = f'{experiment}/{folder}/{index:05d}'
    self.path = os.path.join(logdir, experiment, folder, f'{index:05d}')


def _split(text, flag):
  names = [n.strip() for n in (text or '').split(',') if n.strip()]
  if not names:
    raise ConfigError(f'{flag} {text!r}: give one or more comma-separated names.')
  duplicates = sorted({n for n in names if names.count(n) > 1})
  if duplicates:
    raise ConfigError(f'{flag}: {", ".join(duplicates)} given twice.')
  return names


def _preset(name):
  """(experiment name, params) of a preset name in configs/ or of a .yaml path."""
  if name.endswith(('.yaml', '.yml')) or os.sep in name:
    experiment = os.path.splitext(os.path.basename(name))[0]
    path = name
  else:
    experiment, path = name, os.path.join(PRESETS, f'{name}.yaml')
    if not os.path.isfile(path):
      known = sorted(f[:-5] for f in os.listdir(PRESETS) if f.endswith('.yaml'))
      raise ConfigError(f'unknown experiment {name!r}; allowed: {", ".join(known)} (presets in '
                        f'{PRESETS}) or the path of a .yaml file of params.')
  try:
    params = configs.load_config(path)
  except ConfigError as e:
    raise ConfigError(f'--experiments {name!r}: {e}') from None
  return experiment, params


def plan(args):
  """The runs of the grid with their resolved params; raises ConfigError on any bad flag or params."""
  from planet.scripts import tasks as tasks_lib
  if args.seeds is None or args.tasks is None:
    raise ConfigError('--tasks and --seeds are required (unless --report_only).')
  if args.seeds < 1:
    raise ConfigError(f'--seeds {args.seeds}: allowed: a positive number of runs per experiment and task.')
  if args.cpus_per_run <= 0:
    raise ConfigError(f'--cpus_per_run {args.cpus_per_run:g}: allowed: a positive number.')
  if args.gpus_per_run < 0:
    raise ConfigError(f'--gpus_per_run {args.gpus_per_run:g}: allowed: 0 or a positive number.')
  if args.max_retries < 0:
    raise ConfigError(f'--max_retries {args.max_retries}: allowed: 0 or a positive number.')
  if args.ping_every < 0:
    raise ConfigError(f'--ping_every {args.ping_every:g}: allowed: 0 (off) or a positive number.')
  if args.address is None and args.cpus_per_run > os.cpu_count():
    raise ConfigError(f'--cpus_per_run {args.cpus_per_run:g}: this machine has {os.cpu_count()} CPUs '
                      '(give --address to use a Ray cluster).')
  if args.address is not None and not ADDRESS.match(args.address):
    raise ConfigError(f'--address {args.address!r}: allowed: auto, HOST:PORT or ray://HOST:PORT.')
  task_names = _split(args.tasks, '--tasks')
  for name in task_names:
    tasks_lib.spec(name)  # An unknown task is a one-line ConfigError.
  presets = [_preset(name) for name in _split(args.experiments, '--experiments')]
  experiments = [e for e, _ in presets]
  if len(set(experiments)) != len(experiments):
    raise ConfigError(f'--experiments {args.experiments!r}: two presets share a name.')
  base = configs.load_config(args.config)
  overrides = configs.parse_params(args.params)
  if 'tasks' in overrides:
    raise ConfigError('--params: `tasks` is set by --tasks, one task per run.')
  logdir = os.path.abspath(os.path.expanduser(args.logdir))
  runs = []
  for experiment, preset in presets:
    # A preset that names its tasks (one agent, all tasks) is one run per seed on all of them, in
    # DIR/<experiment>/<task+task+...>/<NNNNN>; the others get one run per task of --tasks.
    groups = [preset['tasks']] if 'tasks' in preset else [[task] for task in task_names]
    for group in groups:
      task = '+'.join(group)
      try:
        params = configs.resolve({**preset, **overrides, 'tasks': group}, base)
      except ConfigError as e:
        raise ConfigError(f'{experiment}/{task}: {e}') from None
      first = 1 if params['seed'] is None else params['seed']
      for index in range(1, args.seeds + 1):
        runs.append(Run(logdir, experiment, task, index, {**params, 'seed': first + index - 1}))
  return runs


def _warn_changed(runs):
  """Warns once per experiment and task whose started runs keep other params than these."""
  changed = {}
  for run in runs:
    path = os.path.join(run.path, 'params.yaml')
    if os.path.exists(path):
      try:
        stored = configs.load_run(path)
      except (ConfigError, OSError, ValueError):  # The run reports it itself when it resumes.
        continue
      keys = sorted(k for k in run.params if k != 'seed' and run.params[k] != stored.get(k))
      if keys:
        changed.setdefault(f'{run.experiment}/{run.task}', set()).update(keys)
  for group, keys in changed.items():
    print(f'warning: runs of {group} were started with other values of {", ".join(sorted(keys))}; '
          'they keep theirs.', file=sys.stderr)


# ---------------------------------------------------------------------------------------------------
# Inside the Ray workers. `_train_one` is the one call into the training code.

def _train_one(run_dir, params, worker_name, ping_every):
  """Trains (or resumes) the run in `run_dir`; yields its scores. Writes PING, then DONE, or FAIL with
  the traceback if it raises; a run that already has DONE yields nothing."""
  from planet.scripts import train
  from planet.training import running
  try:
    run = running.Run(run_dir, functools.partial(train.process, params), None, None, worker_name,
                      ping_every)
  except running.SkipRun:
    return
  yield from run


def _run_task(name, run_dir, params, board, gpus, ping_every):
  """One run inside its Ray worker process; returns (state, message)."""
  if not gpus:  # Ray leaves CUDA_VISIBLE_DEVICES alone for tasks without GPUs: hide them all.
    os.environ['CUDA_VISIBLE_DEVICES'] = ''
  quiet_start.install()  # The worker's TensorFlow loads in train.process, after this.
  if threading.current_thread() is threading.main_thread():
    cli.note_interrupts()  # ray.cancel interrupts the main thread; the trainer also checks the flag.
  worker = f'{socket.gethostname()}:{os.getpid()}'
  os.makedirs(run_dir, exist_ok=True)
  handler = logging.FileHandler(os.path.join(run_dir, 'log.txt'))
  handler.setFormatter(logging.Formatter('%(asctime)s %(message)s', '%Y-%m-%d %H:%M:%S'))
  log = logging.getLogger('planet')
  log.addHandler(handler)
  log.setLevel(logging.INFO)
  log.propagate = False
  log.info(f'Sweep run {name} on {worker}.')
  board.started.remote(name, worker)
  stop = threading.Event()

  def beat():
    while not stop.wait(BEAT_SECONDS):
      board.beat.remote(name)
  threading.Thread(target=beat, daemon=True).start()
  try:
    for score in _train_one(run_dir, params, worker, ping_every):
      board.scored.remote(name, score)
  except KeyboardInterrupt:  # Cancelled: the trainer saved a checkpoint; no DONE, no FAIL.
    return 'interrupted', ''
  except Exception as e:  # The traceback is in FAIL and log.txt.
    return 'failed', f'{type(e).__name__}: {e}'.splitlines()[0]
  finally:
    stop.set()
    log.removeHandler(handler)
    handler.close()
  return 'done', ''


class Board:
  """A small Ray actor the runs report to: each attempt's start and worker, a heartbeat every
  BEAT_SECONDS (a run whose beats stopped is waiting for its retry, not running) and the latest score."""

  def __init__(self):
    self.runs = {}

  def _entry(self, name):
    return self.runs.setdefault(name, {'attempts': 1, 'worker': '?', 'score': None, 'beat': 0.0})

  def started(self, name, worker):
    attempts = self.runs[name]['attempts'] + 1 if name in self.runs else 1
    self.runs[name] = {'attempts': attempts, 'worker': worker, 'score': None, 'beat': time.time()}

  def beat(self, name):
    self._entry(name)['beat'] = time.time()

  def scored(self, name, score):
    self._entry(name).update(score=score, beat=time.time())

  def state(self):
    """(the actor's clock, {name: {attempts, worker, score, beat}})."""
    return time.time(), self.runs


# ---------------------------------------------------------------------------------------------------
# The driver.

def _say(text, stream=sys.stdout):
  print(f'[{time.strftime("%H:%M:%S")}] {text}', file=stream, flush=True)


def _score_text(score):
  return 'no score yet' if score is None else f'score {score:.1f}'


def _start_ray(args, logdir):
  import ray
  path = os.path.join(logdir, 'ray.log')
  _divert_ray_messages(path)
  options = dict(log_to_driver=False, logging_level=logging.ERROR)
  # Ray's C++ side writes to file descriptor 2, once a second while it cannot connect: to `path`.
  with open(path, 'a') as ray_log, quiet_start.stderr_to(ray_log):
    try:
      if args.address:
        ray.init(address=args.address, **options)
      else:
        ray.init(address='local', num_cpus=os.cpu_count(), include_dashboard=False,
                 object_store_memory=100 * 2 ** 20, **options)
    except (ConnectionError, RuntimeError, ValueError) as e:
      if not args.address:
        raise
      problem = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
      hint = ''
      if 'RAY_AUTH_MODE' not in os.environ:
        hint = '; a cluster with token authentication needs RAY_AUTH_MODE=token and its token here'
      raise ConfigError(f'--address {args.address}: no Ray cluster to connect to ({problem}){hint}; '
                        f'see {path}.') from None
  return ray


def _divert_ray_messages(path):
  """Ray prints the cluster's error messages (a worker died, a task is retried, a resource request
  cannot be met) to the driver's stdout. The sweep reports those events itself; Ray's words go to
  `path`. (Ray has no option for this: the hook is its printing function, left alone if it moved.)"""
  try:
    from ray._private import worker
  except ImportError:
    return
  if not callable(getattr(worker, 'print_to_stdstream', None)):
    return

  def write(data, ignore_prefix=False):
    with open(path, 'a') as f:
      for line in data.get('lines', ()):
        f.write(f'{time.strftime("%Y-%m-%d %H:%M:%S")} ({data.get("pid", "ray")}) {line}\n')
  worker.print_to_stdstream = write


def _check_fits(ray, args):
  """A ConfigError when no node of a local cluster can hold one run; a warning on a remote cluster,
  which may still grow (autoscaling)."""
  nodes = [n['Resources'] for n in ray.nodes() if n.get('Alive')]
  if any(r.get('CPU', 0) >= args.cpus_per_run and r.get('GPU', 0) >= args.gpus_per_run for r in nodes):
    return
  largest = max(nodes, key=lambda r: (r.get('GPU', 0), r.get('CPU', 0)), default={})
  text = (f'no node has --cpus_per_run {args.cpus_per_run:g} CPUs and --gpus_per_run '
          f'{args.gpus_per_run:g} GPUs (the largest: {largest.get("CPU", 0):g} CPUs, '
          f'{largest.get("GPU", 0):g} GPUs)')
  if not args.address:
    raise ConfigError(text + '.')
  _say(f'warning: {text}; the runs wait until the cluster has one.', sys.stderr)


def execute(runs, args, logdir):
  """Runs `runs` on Ray, printing progress; returns {name: (state, message)} of the runs that ended."""
  ray = _start_ray(args, logdir)
  cli.note_interrupts()  # ray.init replaced SIGTERM's handler; both stop as Ctrl-C does.
  try:
    _check_fits(ray, args)
    _say_cluster(ray, args, logdir)
    board, pending = _submit(ray, runs, args)
    try:
      return _follow(ray, board, pending, args.max_retries)
    except KeyboardInterrupt:
      _cancel(ray, pending)
      raise
  finally:
    ray.shutdown()


def _say_cluster(ray, args, logdir):
  resources = ray.cluster_resources()
  _say(f'Ray cluster: {resources.get("CPU", 0):g} CPUs, {resources.get("GPU", 0):g} GPUs; each run '
       f'takes {args.cpus_per_run:g} CPUs and {args.gpus_per_run:g} GPUs. Ray\'s messages go to '
       f'{os.path.join(logdir, "ray.log")}.')


def _submit(ray, runs, args):
  """Starts the board and one Ray task per run; returns (board, {task: run})."""
  from planet.scripts import sweep as module  # By name, so that workers import it (not __main__).
  task = ray.remote(num_cpus=args.cpus_per_run, num_gpus=args.gpus_per_run, max_calls=1,
                    max_retries=args.max_retries, retry_exceptions=False)(module._run_task)
  board = ray.remote(num_cpus=0, max_restarts=-1)(module.Board).remote()
  pending = {task.remote(run.name, run.path, run.params, board, args.gpus_per_run, args.ping_every): run
             for run in runs}
  return board, pending


def _follow(ray, board, pending, max_retries):
  """Waits for the tasks of `pending` (emptied as they end), printing each retry and each end as it
  comes and every SCORES_EVERY seconds the scores; returns {name: (state, message)}."""
  ended, attempts = {}, {}
  last_scores = time.time()
  while pending:
    cli.raise_if_interrupted()  # A Ctrl-C whose KeyboardInterrupt a call into Ray swallowed.
    ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_SECONDS)
    now, live = _board_state(ray, board)
    _say_retries(live, attempts, ended, max_retries)
    batch = [(pending.pop(ref), ref) for ref in ready]
    alive = _alive(live, now, set(ended) | {run.name for run, _ in batch})
    for run, ref in batch:
      ended[run.name] = _outcome(ray, ref, attempts.get(run.name, 1))
      _say_ended(run, ended, len(alive), len(pending) - len(alive))
    if pending and time.time() - last_scores >= SCORES_EVERY:
      last_scores = time.time()
      _say(f'{len(alive)} running: ' + ('; '.join(
          f'{n} {_score_text(live[n]["score"])}' for n in alive) or 'none yet'))
  return ended


def _board_state(ray, board):
  """(the board's clock, its runs); (this clock, {}) while the board restarts."""
  try:
    return ray.get(board.state.remote(), timeout=30)
  except ray.exceptions.RayError:
    return time.time(), {}


def _say_retries(live, attempts, ended, max_retries):
  """Prints each new attempt of a run (its process or node died) and keeps the count in `attempts`."""
  for name, entry in live.items():
    if entry['attempts'] > attempts.get(name, 1) and name not in ended:
      _say(f'{name}: attempt {entry["attempts"]} of {max_retries + 1} on {entry["worker"]} '
           '(its process or node died; resuming from its latest checkpoint).')
    attempts[name] = entry['attempts']


def _alive(live, now, ended):
  """The names of the runs, not in `ended`, whose heartbeat is recent (the others wait for a retry)."""
  return [name for name, entry in sorted(live.items())
          if now - entry['beat'] < 3 * BEAT_SECONDS and name not in ended]


def _outcome(ray, ref, attempts):
  """(state, message) of a run whose task ended."""
  try:
    state, message = ray.get(ref)
  except ray.exceptions.RayError as e:  # Died more often than --max_retries allows.
    return 'lost', (f'{type(e).__name__} after {attempts} attempts; it resumes when the command is run '
                    'again')
  return state, message


def _say_ended(run, ended, running, pending):
  state, message = ended[run.name]
  counts = _counts(ended, running, pending)
  if state == 'done':
    _, _, scores = _curve(run.path)
    score, count = results.final_score(scores)
    _say(f'{run.name} done: final score {score:.1f} ({count} test episodes). {counts}')
  else:
    _say(f'{run.name} {state}: {message.rstrip(".")}. {counts}')


def _cancel(ray, pending):
  """After Ctrl-C: cancels the runs (a running one saves a checkpoint) and waits for them a while."""
  _say(f'Interrupted: stopping {len(pending)} runs (a running one saves a checkpoint); rerun the same '
       'command to resume.', sys.stderr)
  for ref in pending:
    ray.cancel(ref)
  try:
    ray.wait(list(pending), num_returns=len(pending), timeout=STOP_TIMEOUT)
  except KeyboardInterrupt:
    pass


def _counts(ended, running, pending):
  done = sum(1 for state, _ in ended.values() if state == 'done')
  return f'{done} done, {running} running, {len(ended) - done} failed, {pending} pending.'


def _curve(path):
  from planet.scripts import plot_scores
  return plot_scores.run_curve(path)


def main(argv=None):
  quiet_start.install()
  args = parse_args(argv)
  logdir = os.path.abspath(os.path.expanduser(args.logdir))
  try:
    if args.report_only:
      if not os.path.isdir(logdir):
        raise ConfigError(f'--logdir {args.logdir!r} does not exist.')
    else:
      runs = plan(args)
  except ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  if args.report_only:
    return _report(logdir)
  states = {run.name: running_lib.state(run.path) for run in runs}
  failed = [run for run in runs if states[run.name] == 'failed']
  todo = [run for run in runs if states[run.name] in ('new', 'started')]
  if args.retry_failed:
    todo += failed
  if todo:
    try:
      import ray  # noqa: F401
    except ImportError:
      print(f'error: the sweep needs Ray; install it with {INSTALL}', file=sys.stderr)
      return 2
  experiments = len({run.experiment for run in runs})
  tasks = len({run.task for run in runs})
  done = sum(1 for state in states.values() if state == 'done')
  print(f'Sweep {logdir}: {len(runs)} runs ({experiments} experiments x {tasks} tasks x {args.seeds} '
        f'seeds): {done} done, {len(failed)} failed, {len(todo)} to run.', flush=True)
  _warn_changed(todo)
  if todo:
    if args.retry_failed:
      for run in failed:
        running_lib.clear_failure(run.path)
    os.makedirs(logdir, exist_ok=True)
    try:
      execute(todo, args, logdir)
    except KeyboardInterrupt:
      return 130
    except ConfigError as e:
      print(f'error: {e}', file=sys.stderr)
      return 2
  code = _report(logdir)
  unfinished = [run.name for run in runs if running_lib.state(run.path) != 'done']
  if unfinished:
    print(f'{len(unfinished)} runs not finished: {", ".join(unfinished)}.', file=sys.stderr)
    return 1
  return code


def _report(logdir):
  rows, figures = results.write(logdir)
  if not rows:
    print(f'No runs with params.yaml under {logdir}; wrote an empty table.')
  with open(os.path.join(logdir, 'results.md')) as f:
    print(''.join(line for line in f if line.startswith('|')), end='')
  print(f'Wrote {os.path.join(logdir, "results.md")}, results.csv' +
        ''.join(f', {name}' for name in figures) + '.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
