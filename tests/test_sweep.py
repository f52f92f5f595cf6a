"""The sweep command on a local Ray cluster of this machine's cores, at debug size.

One 1-task x 2-seed sweep of `dummy` is shared by the tests; while it runs, the worker process of
planet/dummy/00001 is killed with SIGKILL once the run has a checkpoint. (A dm_control task in a worker
process is the train script's `test_debug_run[cup_catch-process]`; here it cost two more Ray runs,
about a minute of the suite.)
"""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO
from conftest import wait_until
from conftest import write_tasks_run
from planet.scripts import configs
from planet.scripts import results
from planet.scripts import sweep
from planet.tools import metrics
from planet.training import running

pytestmark = pytest.mark.slow

TASKS = ('dummy',)
FLAGS = ('--tasks', ','.join(TASKS), '--seeds', '2', '--config', 'debug',
         '--params', '{max_steps: 40, checkpoint_every: 10}', '--cpus_per_run', '1')
RUNS = tuple(f'planet/{task}/{index:05d}' for task in TASKS for index in (1, 2))


def start(logdir, *flags, stdout=subprocess.PIPE):
  return subprocess.Popen(
      [sys.executable, '-m', 'planet.scripts.sweep', '--logdir', logdir, *flags], cwd=REPO,
      stdout=stdout, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(path, process, timeout=240):
  def there():
    if os.path.exists(path):
      return True
    assert process.poll() is None, process.communicate()
    return False
  wait_until(there, timeout, path)


def worker_pid(rundir):
  """The pid of the Ray worker that runs `rundir`, from its PING (`host:pid`)."""
  with open(os.path.join(rundir, 'PING')) as f:
    pid = int(json.load(f)['worker'].rsplit(':', 1)[1])
  with open(f'/proc/{pid}/cmdline', 'rb') as f:
    assert b'ray::' in f.read()  # Ray's worker process, running our task
  return pid


def stop(process):
  if process.poll() is None:
    os.killpg(process.pid, signal.SIGINT)
    try:
      process.wait(60)
    except subprocess.TimeoutExpired:
      os.killpg(process.pid, signal.SIGKILL)


def run_scores(rundir):
  """[score] of a run as the results read them: from its metrics.jsonl, or from its test/ events."""
  rows = metrics.scalars(rundir, 'test', ['trainer/test/score'])
  return [value for _, _, value in rows['trainer/test/score']]


@pytest.fixture(scope='module')
def grid(tmp_path_factory):
  logdir = str(tmp_path_factory.mktemp('sweep'))
  began = time.time()
  process = start(logdir, *FLAGS)
  try:
    target = os.path.join(logdir, 'planet', 'dummy', '00001')
    wait_for(os.path.join(target, 'checkpoint'), process)
    killed = worker_pid(target)
    os.kill(killed, signal.SIGKILL)
    out, err = process.communicate(timeout=400)
  finally:
    stop(process)
  print(f'sweep of 4 runs: {time.time() - began:.0f} s\n{out}')
  return {'logdir': logdir, 'killed': killed, 'code': process.returncode, 'out': out, 'err': err}


def test_sweep_runs_are_laid_out_as_train_script_runs(grid):
  logdir = grid['logdir']
  assert grid['code'] == 0, grid['err']
  assert sorted(os.listdir(os.path.join(logdir, 'planet'))) == ['dummy']
  for task in TASKS:
    assert sorted(os.listdir(os.path.join(logdir, 'planet', task))) == ['00001', '00002']
  seeds = []
  for name in RUNS:
    rundir = os.path.join(logdir, name)
    assert running.state(rundir) == 'done'
    assert not os.path.exists(os.path.join(rundir, 'FAIL'))
    params = configs.load(os.path.join(rundir, 'params.yaml'))
    assert params == configs.resolve(params)  # complete and valid, as the train script writes it
    assert params['tasks'] == [name.split('/')[1]] and params['max_steps'] == 40
    assert params['planner_amount'] == 5  # the debug config under the (empty) planet preset
    seeds.append(params['seed'])
    assert os.path.exists(os.path.join(rundir, 'model.ckpt-40.index'))
    for folder in ('train_episodes', 'test_episodes', 'train', 'test'):
      assert os.listdir(os.path.join(rundir, folder))
  assert seeds == [1, 2]  # seed k of every experiment and task is k
  lines = [line for line in grid['out'].splitlines() if ' done: final score ' in line]
  assert sorted(re.search(r'\] (\S+) done', line).group(1) for line in lines) == sorted(RUNS)
  assert lines[-1].endswith('2 done, 0 running, 0 failed, 0 pending.')
  # Ray's own messages (a worker died, a task is retried) go to ray.log, not to our output.
  assert '(raylet)' not in grid['out'] + grid['err']
  with open(os.path.join(logdir, 'ray.log')) as f:
    assert 'A worker died or was killed while executing a task' in f.read()


def test_results_table_has_the_runs_scores(grid):
  logdir = grid['logdir']
  with open(os.path.join(logdir, 'results.csv')) as f:
    rows = list(csv.DictReader(f))
  assert [(r['experiment'], r['task']) for r in rows] == [('planet', 'dummy')]
  with open(os.path.join(logdir, 'results.md')) as f:
    table = f.read()
  for row in rows:
    finals = {}
    for index in ('00001', '00002'):
      scores = run_scores(os.path.join(logdir, 'planet', row['task'], index))
      assert all(np.isfinite(scores))
      assert len(scores) == 2  # one per test phase, also in the run that was killed and resumed
      finals[index] = np.mean(scores[-10:])
    mean, std = np.mean(list(finals.values())), np.std(list(finals.values()))
    assert float(row['score_mean']) == pytest.approx(mean, rel=1e-6)
    assert float(row['score_std']) == pytest.approx(std, rel=1e-6, abs=1e-6)
    assert {k: float(v) for k, v in (p.split(':') for p in row['run_scores'].split(';'))} == \
        pytest.approx(finals, rel=1e-6)
    assert (row['runs_finished'], row['runs_failed'], row['runs_total']) == ('2', '0', '2')
    assert float(row['train_episodes']) == 2.0  # 1 seed episode + 1 collected
    assert row['paper_planet'] == ''
    assert f'| planet | {row["task"]} | {mean:.1f} ± {std:.1f} | 2 of 2 | 2.0 |' in table
    for line in grid['out'].splitlines():
      for index, final in finals.items():
        if f'planet/{row["task"]}/{index} done: ' in line:
          assert f'final score {final:.1f} ' in line
  import imageio.v3 as iio
  for task in TASKS:
    assert f'![{task}](results_{task}.png)' in table
    image = iio.imread(os.path.join(logdir, f'results_{task}.png'))
    assert image.shape[:2] == (1320, 800)  # one column; 6.6 x 4 in at 200 dpi


def test_killed_run_resumes_from_its_checkpoint(grid):
  logdir = grid['logdir']
  with open(os.path.join(logdir, 'planet', 'dummy', '00001', 'log.txt')) as f:
    log = f.read()
  attempts = re.findall(r'Sweep run planet/dummy/00001 on \S+:(\d+)\.', log)
  assert len(attempts) == 2 and int(attempts[0]) == grid['killed'] != int(attempts[1])
  resumed = re.findall(r'Resuming from \S+model\.ckpt-(\d+) at step (\d+)\.', log)
  assert len(resumed) == 1
  checkpoint, step = map(int, resumed[0])
  assert step == checkpoint and step in (20, 40)  # not from scratch
  assert log.index('Resume run') > log.index(f':{attempts[1]}.')
  assert re.search(r'planet/dummy/00001: attempt 2 of 4 on \S+ \(its process or node died',
                   grid['out'])
  for name in RUNS[1:]:  # the others ran once, from scratch
    with open(os.path.join(logdir, name, 'log.txt')) as f:
      log = f.read()
    assert log.count('Sweep run') == 1 and 'Resuming' not in log


def test_second_invocation_trains_nothing_and_rewrites_the_table(grid, capsys, monkeypatch):
  logdir = grid['logdir']
  paths = [os.path.join(logdir, name) for name in ('results.md', 'results.csv')]
  before = []
  for path in paths:
    with open(path) as f:
      before.append((f.read(), os.stat(path).st_ino))
  runs = {name: sorted(os.listdir(os.path.join(logdir, name))) for name in RUNS}
  logs = {name: os.path.getsize(os.path.join(logdir, name, 'log.txt')) for name in RUNS}
  monkeypatch.setattr(sweep, '_start_ray', lambda *args: pytest.fail('started Ray'))
  assert sweep.main(['--logdir', logdir, *FLAGS]) == 0
  out = capsys.readouterr().out
  assert out.startswith(f'Sweep {logdir}: 2 runs (1 experiments x 1 tasks x 2 seeds): 2 done, '
                        '0 failed, 0 to run.\n')
  for path, (text, inode) in zip(paths, before):
    with open(path) as f:
      assert f.read() == text
    assert os.stat(path).st_ino != inode  # written again (atomically)
  assert {name: sorted(os.listdir(os.path.join(logdir, name))) for name in RUNS} == runs
  assert {name: os.path.getsize(os.path.join(logdir, name, 'log.txt')) for name in RUNS} == logs
  assert sweep.main(['--logdir', logdir, '--report_only']) == 0
  with open(paths[1]) as f:
    assert f.read() == before[1][0]


def test_failed_run_is_not_retried_and_ctrl_c_leaves_runs_resumable(tmp_path):
  # 00001 cannot write its episodes (a file stands where its train_episodes folder goes): the run
  # raises, gets FAIL, and is not retried. Once 00002 has a checkpoint and the sweep has printed 00001's
  # failure, Ctrl-C (SIGINT to the process group, as a terminal sends).
  logdir = str(tmp_path / 'sweep')
  broken = os.path.join(logdir, 'planet', 'dummy', '00001')
  os.makedirs(broken)
  with open(os.path.join(broken, 'train_episodes'), 'w') as f:
    f.write('not a folder\n')
  printed = tmp_path / 'stdout.txt'
  # 00002 has 100,000 steps to go, so that it cannot finish before the Ctrl-C (with 400 it once did:
  # 148 s from start to Ctrl-C on a busy machine, and the sweep ended 1, not 130).
  flags = ('--config', 'debug', '--params', '{max_steps: 100000, checkpoint_every: 10}', '--cpus_per_run',
           '1')
  with open(printed, 'w') as stdout:
    process = start(logdir, '--tasks', 'dummy', '--seeds', '2', *flags, stdout=stdout)
  try:
    wait_for(os.path.join(logdir, 'planet', 'dummy', '00002', 'checkpoint'), process)

    def failure_printed():  # By the driver, which looks at the runs every POLL_SECONDS.
      assert process.poll() is None, process.communicate()
      return 'planet/dummy/00001 failed' in printed.read_text()
    wait_until(failure_printed, 60, 'failure line on stdout')
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=180)
  finally:
    stop(process)
  out = printed.read_text()
  assert process.returncode == 130, err
  assert re.search(r"planet/dummy/00001 failed: FileExistsError: .*train_episodes", out)
  assert 'rerun the same command to resume' in err
  with open(os.path.join(broken, 'FAIL')) as f:
    assert 'FileExistsError' in f.read()
  with open(os.path.join(broken, 'log.txt')) as f:
    assert f.read().count('Sweep run planet/dummy/00001') == 1  # not retried
  assert 'attempt 2' not in out
  resumable = os.path.join(logdir, 'planet', 'dummy', '00002')
  assert running.state(resumable) == 'started'  # neither DONE nor FAIL
  with open(os.path.join(resumable, 'log.txt')) as f:
    assert re.search(r'Interrupted; saving a checkpoint at step [1-9]\d*\.', f.read())
  assert not os.path.exists(os.path.join(logdir, 'results.md'))


def test_rerun_skips_failed_runs(grid, tmp_path, capsys, monkeypatch):
  # A copy of the dummy runs' results, one of them failed: nothing to run, and the table says so.
  logdir = str(tmp_path / 'copy')
  for index in ('00001', '00002'):
    source = os.path.join(grid['logdir'], 'planet', 'dummy', index)
    target = os.path.join(logdir, 'planet', 'dummy', index)
    os.makedirs(target)
    for name in ('params.yaml', 'DONE', 'PING'):
      shutil.copy(os.path.join(source, name), target)
    shutil.copytree(os.path.join(source, 'test'), os.path.join(target, 'test'))
  with open(os.path.join(logdir, 'planet', 'dummy', '00002', 'FAIL'), 'w') as f:
    f.write('Traceback: ...\n')
  monkeypatch.setattr(sweep, '_start_ray', lambda *args: pytest.fail('started Ray'))
  assert sweep.main(['--logdir', logdir, '--tasks', 'dummy', *FLAGS[2:]]) == 1
  captured = capsys.readouterr()
  assert ': 2 runs (1 experiments x 1 tasks x 2 seeds): 1 done, 1 failed, 0 to run.' in captured.out
  assert captured.err.endswith('1 runs not finished: planet/dummy/00002.\n')
  final = np.mean(run_scores(os.path.join(logdir, 'planet', 'dummy', '00001'))[-10:])
  with open(os.path.join(logdir, 'results.md')) as f:
    assert f'| planet | dummy | {final:.1f} ± 0.0 | 1 of 2 (1 failed) | 2.0 |' in f.read()


def test_params_of_a_run_defaults_config_preset_params_task_seed():
  args = sweep.parse_args(['--logdir', '/nowhere', '--tasks', 'dummy,cheetah_run', '--seeds', '2',
                           '--experiments', 'planet,random_collection', '--config', 'debug',
                           '--params', '{seed: 7, max_steps: 60}'])
  runs = sweep.plan(args)
  assert [run.name for run in runs] == [
      f'{e}/{t}/{i:05d}' for e in ('planet', 'random_collection') for t in ('dummy', 'cheetah_run')
      for i in (1, 2)]
  assert runs[0].path == '/nowhere/planet/dummy/00001'
  assert [run.params['seed'] for run in runs] == [7, 8] * 4
  assert [run.params['tasks'] for run in runs[:4]] == [['dummy']] * 2 + [['cheetah_run']] * 2
  for run in runs:
    assert run.params == configs.resolve(run.params)
    assert run.params['max_steps'] == 60 and run.params['planner_amount'] == 5  # --params, debug
  # The preset wins over --config: random collection keeps its zero-iteration planner.
  assert {run.params['planner_iterations'] for run in runs[:4]} == {2}
  assert {(run.params['planner_iterations'], run.params['train_action_noise']) for run in runs[4:]} \
      == {(0, 1.0)}


def test_one_agent_all_tasks_is_one_run_per_seed_on_all_its_tasks():
  args = sweep.parse_args(['--logdir', '/nowhere', '--tasks', 'dummy', '--seeds', '2',
                           '--experiments', 'planet,one_agent_all_tasks'])
  runs = sweep.plan(args)
  six = ['cartpole_swingup', 'reacher_easy', 'cheetah_run', 'finger_spin', 'cup_catch', 'walker_walk']
  assert [run.name for run in runs] == [
      'planet/dummy/00001', 'planet/dummy/00002',
      f'one_agent_all_tasks/{"+".join(six)}/00001', f'one_agent_all_tasks/{"+".join(six)}/00002']
  assert runs[2].params['tasks'] == six and runs[2].params['collect_every'] == 30000
  assert [run.params['seed'] for run in runs] == [1, 2, 1, 2]


def test_a_run_of_several_tasks_is_a_row_for_each(tmp_path):
  run = tmp_path / 'one_agent_all_tasks' / 'cup_catch+walker_walk' / '00001'
  write_tasks_run(str(run), {'cup_catch': [10.0 * step for step in range(12)],
                             'walker_walk': [2.0 * step for step in range(12)]},
                  [10 + 2 * step for step in range(12)])
  (run / 'DONE').write_text('\n')
  rows, curves = results.summarize(str(tmp_path))
  assert [(r['experiment'], r['task']) for r in rows] == [
      ('one_agent_all_tasks', 'cup_catch'), ('one_agent_all_tasks', 'walker_walk')]
  assert rows[0]['score_mean'] == pytest.approx(10.0 * np.mean(range(2, 12)))  # the last 10
  assert rows[1]['score_mean'] == pytest.approx(2.0 * np.mean(range(2, 12)))
  assert rows[0]['paper_planet'] == 930 and rows[1]['runs_finished'] == 1
  assert rows[0]['train_episodes'] == pytest.approx((10 + 2 * 11) / 2)  # per task
  episodes, scores = curves['walker_walk']['one_agent_all_tasks'][0]
  assert episodes[:3].tolist() == [5.0, 6.0, 7.0] and scores[:3].tolist() == [0.0, 2.0, 4.0]


BAD = (
    (('--experiments', 'planet,planetx'), "error: unknown experiment 'planetx'; allowed: cpu_quick, "),
    (('--tasks', 'dummy,cheetah_runn'), "error: unknown task 'cheetah_runn' (did you mean 'cheetah_run'?)"),
    (('--seeds', '0'), 'error: --seeds 0: allowed: a positive number'),
    (('--seeds', 'two'), "error: argument --seeds: invalid int value: 'two'"),
    (('--params', '{max_stepz: 60}'), "error: planet/dummy: unknown params key 'max_stepz' (did you mean "),
    (('--params', '{tasks: [dummy]}'), 'error: --params: `tasks` is set by --tasks'),
    (('--params', '{max_steps: [1'), "error: --params '{max_steps: [1' is not valid YAML"),
    (('--config', 'nope'), "error: --config 'nope' is neither a config name"),
    (('--address', 'not an address'), "error: --address 'not an address': allowed: auto, "),
    (('--cpus_per_run', '0'), 'error: --cpus_per_run 0: allowed: a positive number.'),
    (('--cpus_per_run', '100000'), 'error: --cpus_per_run 100000: this machine has '),
    (('--max_retries', '-1'), 'error: --max_retries -1: allowed: 0 or a positive number.'),
)


@pytest.mark.parametrize('flags, message', BAD, ids=[' '.join(flags) for flags, _ in BAD])
def test_bad_flags_stop_with_one_line_before_ray(tmp_path, capsys, monkeypatch, flags, message):
  monkeypatch.setattr(sweep, '_start_ray', lambda *args: pytest.fail('started Ray'))
  logdir = str(tmp_path / 'sweep')
  given = dict(zip(FLAGS[::2], FLAGS[1::2]))
  given.update(zip(flags[::2], flags[1::2]))
  argv = ['--logdir', logdir] + [x for pair in given.items() for x in pair]
  try:
    code = sweep.main(argv)
  except SystemExit as e:  # argparse's own checks
    code = e.code
  captured = capsys.readouterr()
  assert code == 2 and captured.out == ''
  assert captured.err.startswith(message) and captured.err.count('\n') == 1, captured.err
  assert not os.path.exists(logdir)


def test_a_run_larger_than_every_node_stops_with_one_line(tmp_path, capsys):
  logdir = str(tmp_path / 'sweep')
  assert sweep.main(['--logdir', logdir, *FLAGS, '--gpus_per_run', '1000']) == 2
  captured = capsys.readouterr()
  assert captured.err.startswith('error: no node has --cpus_per_run 1 CPUs and --gpus_per_run 1000 GPUs '
                                 '(the largest: ')
  assert captured.err.count('\n') == 1
  assert 'planet' not in os.listdir(logdir)  # no run started


def test_without_ray_one_line_tells_how_to_install_it(tmp_path, capsys, monkeypatch):
  monkeypatch.setitem(sys.modules, 'ray', None)  # `import ray` raises ImportError
  logdir = str(tmp_path / 'sweep')
  assert sweep.main(['--logdir', logdir, *FLAGS]) == 2
  captured = capsys.readouterr()
  assert captured.err == "error: the sweep needs Ray; install it with pip install -e '.[cluster]'\n"
  assert captured.out == '' and not os.path.exists(logdir)
