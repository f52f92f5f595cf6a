"""scripts/learning_check.py and scripts/baselines.py: thresholds from the measured baselines, the
verdict, one-line errors. (The learning itself takes minutes: docs/results/README.md.)"""

import os
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'scripts'))
import baselines  # noqa: E402
import learning_check  # noqa: E402


def test_threshold_is_the_better_baseline_plus_three_deviations():
  value, how = learning_check.threshold('cartpole_balance')
  assert value == pytest.approx(750.4 + 3 * 26.0)  # docs/results/baselines.csv: all zeros
  assert how == "the zeros policy's 750.4 + 3 x 26.0"
  value, _ = learning_check.threshold('cartpole_swingup')
  assert value == pytest.approx(151.3 + 3 * 58.8)  # random
  assert learning_check.threshold('cheetah_run')[0] is None


@pytest.mark.parametrize('scores, code, expected, message', [
    ([150.0, 300.0, 400.0, 380.0], 130, 0, 'PASS: the last 3 test returns average 360.0'),
    ([150.0, 400.0, 350.0, 200.0], 130, 1, 'FAIL: the last 3 test returns average 316.7'),
    ([500.0, 500.0], 130, 1, 'FAIL: 2 test returns in 15 minutes, 3 needed'),
    ([500.0, 500.0, 500.0], 1, 1, 'FAIL: the run exited with code 1'),
])
def test_verdict(monkeypatch, capsys, tmp_path, scores, code, expected, message):
  calls = []
  monkeypatch.setattr(learning_check, 'train', lambda *args: calls.append(args) or (scores, code))
  logdir = str(tmp_path / 'check')
  assert learning_check.main(['--logdir', logdir]) == expected
  (run, task, seed, minutes), = calls
  assert (run, task, seed, minutes) == (os.path.join(logdir, 'run'), 'cartpole_swingup', 1, 15.0)
  out = capsys.readouterr().out
  assert 'passes when the mean of the last 3 test returns is above 327.7' in out
  assert message in out


@pytest.mark.parametrize('flags, message', [
    (['--task', 'pong'], "--task 'pong': allowed: cartpole_balance"),
    (['--minutes', '0'], '--minutes 0.0: allowed: a positive number'),
    (['--last', '0'], '--last 0: allowed: a positive number'),
    (['--task', 'cheetah_run'], 'no threshold for cheetah_run: no baselines of cheetah_run'),
])
def test_bad_arguments_are_one_line(capsys, flags, message):
  with pytest.raises(SystemExit) as exit:
    learning_check.main(flags)
  assert exit.value.code == 2
  err = capsys.readouterr().err
  assert err.startswith('error: ') and message in err and err.count('\n') == 1


def test_baselines_of_the_dummy_task(tmp_path, capsys):
  """dummy: 1000 steps of rewards uniform in [0, 1), whatever the actions, seeded by the episode."""
  path = str(tmp_path / 'baselines.csv')
  assert baselines.main(['--task', 'dummy', '--episodes', '2', '--csv', path]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].startswith('dummy random: ') and lines[1].startswith('dummy zeros: ')
  rows = open(path).read().splitlines()
  assert rows[0] == 'task,policy,episodes,mean,std,seed' and len(rows) == 3
  random_mean = float(rows[1].split(',')[3])
  assert rows[2].split(',')[3] == rows[1].split(',')[3]  # the same env seeds, the same rewards
  assert 450 < random_mean < 550
  baselines.main(['--task', 'dummy', '--episodes', '1', '--csv', path])  # replaces the rows
  assert len(open(path).read().splitlines()) == 3 and os.listdir(tmp_path) == ['baselines.csv']
