"""Checkpoints are deleted as in an uninterrupted run, whatever the resumes: the max_to_keep and
keep-every-n-hours rule is carried across restarts in the state file, rebuilt from the files' times when
the state file is an older version's or garbage, and survives a fallback past a corrupt checkpoint."""

import glob
import logging
import os

import pytest
import tensorflow as tf

from planet.training import checkpoints

# Saves at steps 20, 40, ..., 100 at time = step seconds, keeping 2, one every 30 seconds: 20 is deleted
# (saved 21 s after the start at -1), 40 kept for good (41 s), 60 deleted (20 s after 40), 80 kept
# (40 s after 40), 100 and 80 the two newest.
SAVES = [20, 40, 60, 80, 100]
KEPT = [40, 80, 100]
HOURS = 30 / 3600


class Clock:
  now = 0.0

  def __call__(self):
    return self.now


def open_checkpoints(directory, clock, keep=2, hours=HOURS):
  """A fresh process's view: new variables, a new Checkpoints object on `directory`."""
  variables = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), weight=tf.Variable(0.0))
  return checkpoints.Checkpoints(variables, str(directory), keep=keep, keep_every_hours=hours,
                                 clock=clock)


def save(ckpts, clock, step):
  clock.now = float(step)
  ckpts.checkpoint.step.assign(step)
  ckpts.checkpoint.weight.assign(step / 10)
  ckpts.save(step)


def on_disk(directory):
  return sorted(int(p.split('-')[-1].split('.')[0]) for p in glob.glob(f'{directory}/model.ckpt-*.index'))


def state(directory):
  return tf.train.get_checkpoint_state(str(directory))


def test_an_uninterrupted_run_keeps_the_newest_and_one_every_interval(tmp_path):
  clock = Clock()
  ckpts = open_checkpoints(tmp_path, clock)
  assert ckpts.restore() is None
  for step in SAVES:
    save(ckpts, clock, step)
  assert on_disk(tmp_path) == KEPT
  assert [os.path.basename(p) for p in state(tmp_path).all_model_checkpoint_paths] == [
      'model.ckpt-80', 'model.ckpt-100']
  assert list(state(tmp_path).all_model_checkpoint_timestamps) == [80.0, 100.0]
  assert state(tmp_path).last_preserved_timestamp == 40.0
  assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / 'model.ckpt-100')


@pytest.mark.parametrize('restarts', [(20,), (40,), (60,), (20, 40, 60), (40, 60, 80), (20, 60, 80)])
def test_resumes_keep_what_the_uninterrupted_run_keeps(tmp_path, restarts):
  """A restart after each save in `restarts`; each restart restores the newest."""
  clock = Clock()
  ckpts = open_checkpoints(tmp_path, clock)
  ckpts.restore()
  for step in SAVES:
    save(ckpts, clock, step)
    if step in restarts:
      ckpts = open_checkpoints(tmp_path, clock)
      assert ckpts.restore() == step
      assert int(ckpts.checkpoint.step) == step and float(ckpts.checkpoint.weight) == step / 10
  assert on_disk(tmp_path) == KEPT


def test_a_kill_between_the_write_and_the_state_file_is_tracked(tmp_path):
  """Killed after TensorFlow wrote checkpoint 60 and before the state file listed it."""
  clock = Clock()
  ckpts = open_checkpoints(tmp_path, clock)
  ckpts.restore()
  for step in SAVES[:2]:
    save(ckpts, clock, step)
  clock.now = 60.0
  ckpts.checkpoint.write(str(tmp_path / 'model.ckpt-60'))  # the files, not the state
  os.utime(tmp_path / 'model.ckpt-60.index', (60.0, 60.0))
  ckpts = open_checkpoints(tmp_path, clock)
  assert ckpts.restore() == 60
  assert on_disk(tmp_path) == [40, 60]  # 20 went at the restart, as at the save of 60
  for step in SAVES[3:]:
    save(ckpts, clock, step)
  assert on_disk(tmp_path) == KEPT


def test_a_corrupt_newest_checkpoint_falls_back_without_leaking(tmp_path, caplog):
  clock = Clock()
  ckpts = open_checkpoints(tmp_path, clock)
  ckpts.restore()
  for step in SAVES[:4]:
    save(ckpts, clock, step)
  assert on_disk(tmp_path) == [40, 60, 80]
  with open(tmp_path / 'model.ckpt-80.data-00000-of-00001', 'r+b') as f:
    f.truncate(10)
  ckpts = open_checkpoints(tmp_path, clock)
  with caplog.at_level(logging.WARNING, logger='planet'):
    assert ckpts.restore() == 60
  assert [r.message for r in caplog.records if 'model.ckpt-80' in r.message and 'corrupt/' in r.message]
  assert sorted(os.listdir(tmp_path / 'corrupt')) == [
      'model.ckpt-80.data-00000-of-00001', 'model.ckpt-80.index']
  for step in SAVES[3:]:  # the run redoes 80, then 100
    save(ckpts, clock, step)
  assert on_disk(tmp_path) == KEPT


def old_run(directory, steps, minutes):
  """Checkpoints saved `minutes` after time 0, with the state file an older version wrote at a
  resume: every checkpoint on disk listed, no save times."""
  ckpts = open_checkpoints(directory, Clock())
  ckpts.checkpoint.save_counter  # noqa: B018 (created, as every save of the trainer has it)
  for step, minute in zip(steps, minutes):
    ckpts.checkpoint.step.assign(step)
    ckpts.checkpoint.write(str(directory / f'model.ckpt-{step}'))
    os.utime(directory / f'model.ckpt-{step}.index', (minute * 60.0, minute * 60.0))
  lines = [f'model_checkpoint_path: "model.ckpt-{steps[-1]}"']
  lines += [f'all_model_checkpoint_paths: "model.ckpt-{step}"' for step in steps]
  (directory / 'checkpoint').write_text('\n'.join(lines) + '\n')


def test_an_older_versions_state_file_is_cleaned_up_from_the_file_times(tmp_path):
  # The leak of the report: two resumes of an older version left 1010-4040 (saved in the first
  # minutes); 5050 was saved 2 h 5 min after the oldest, 46460-50500 are the newest five.
  steps = [1010, 2020, 3030, 4040, 5050, 46460, 47470, 48480, 49490, 50500]
  minutes = [0, 1, 2, 3, 125, 600, 601, 602, 603, 604]
  old_run(tmp_path, steps, minutes)
  clock = Clock()
  clock.now = 700 * 60.0
  ckpts = open_checkpoints(tmp_path, clock, keep=5, hours=2.0)  # the defaults
  assert ckpts.restore() == 50500
  assert on_disk(tmp_path) == [5050, 46460, 47470, 48480, 49490, 50500]
  assert state(tmp_path).last_preserved_timestamp == 125 * 60.0
  save(ckpts, clock, 51510)  # 46460 was saved over 2 h after 5050: kept for good
  save(ckpts, clock, 52520)  # 47470 was saved 1 minute after 46460: deleted
  assert on_disk(tmp_path) == [5050, 46460, 48480, 49490, 50500, 51510, 52520]


@pytest.mark.parametrize('text', ['garbage {{{', '', 'model_checkpoint_path: "model.ckpt-80"\n'
                                  'all_model_checkpoint_paths: "model.ckpt-80"\n'
                                  'all_model_checkpoint_timestamps: 80.0\n'])
def test_a_state_file_without_the_rules_state_is_rebuilt_from_the_files(tmp_path, caplog, text):
  """Garbage (with a warning naming it), empty, or one without a last preserved time (what TensorFlow
  writes after reading an older version's state file)."""
  old_run(tmp_path, [20, 40, 60, 80], [0, 1, 2, 3])
  (tmp_path / 'checkpoint').write_text(text)
  clock = Clock()
  clock.now = 600.0
  with caplog.at_level(logging.WARNING, logger='planet'):
    ckpts = open_checkpoints(tmp_path, clock, hours=2.0)
    assert ckpts.restore() == 80
  assert on_disk(tmp_path) == [60, 80]  # minutes apart: none kept for good
  assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / 'model.ckpt-80')
  warned = [r.message for r in caplog.records if str(tmp_path / 'checkpoint') in r.message]
  assert len(warned) == (1 if text.startswith('garbage') else 0)


def test_the_state_file_is_tensorflows_in_both_directions(tmp_path):
  """A CheckpointManager continues from our state file, and we from one a CheckpointManager wrote
  (a run of an older version that was never resumed)."""
  clock = Clock()
  ckpts = open_checkpoints(tmp_path, clock)
  ckpts.restore()
  for step in SAVES:
    save(ckpts, clock, step)
  manager = tf.train.CheckpointManager(ckpts.checkpoint, str(tmp_path), 2, checkpoint_name='model.ckpt',
                                       keep_checkpoint_every_n_hours=HOURS)
  assert [os.path.basename(p) for p in manager.checkpoints] == ['model.ckpt-80', 'model.ckpt-100']
  manager.save(checkpoint_number=120)
  manager.save(checkpoint_number=140)  # 80 was saved long enough after 40: kept; 100 deleted
  assert on_disk(tmp_path) == [40, 80, 120, 140]
  clock.now = 2e10
  ckpts = open_checkpoints(tmp_path, clock)
  assert ckpts.restore() == 140
  assert sorted(ckpts.tracked) == [120, 140]
  save(ckpts, clock, 160)
  assert on_disk(tmp_path) == [40, 80, 120, 140, 160]  # 120 saved long after 80 (real time): kept


def test_a_run_without_checkpoints_left_has_no_state_file(tmp_path):
  clock = Clock()
  ckpts = open_checkpoints(tmp_path, clock)
  ckpts.restore()
  save(ckpts, clock, 20)
  (tmp_path / 'model.ckpt-20.index').write_bytes(b'garbage')
  ckpts = open_checkpoints(tmp_path, clock)
  assert ckpts.restore() is None
  assert not (tmp_path / 'checkpoint').exists()


@pytest.mark.slow
def test_a_debug_run_resumed_three_times_keeps_what_the_uninterrupted_run_keeps(tmp_path, monkeypatch,
                                                                                 caplog):
  """The trainer with the rule above (keep 2, one every 30 s, the clock reading the global step, so
  that a replayed save has the time the uninterrupted run's had): stopped after checkpoint 20, 60 and
  80, then the newest checkpoint damaged and the run resumed to the end."""
  from planet.scripts import configs
  from planet.scripts import train

  class StepClocked(checkpoints.Checkpoints):
    def __init__(self, checkpoint, directory):
      super().__init__(checkpoint, directory, keep=2, keep_every_hours=HOURS,
                       clock=lambda: float(checkpoint.step.numpy()))

  monkeypatch.setattr(checkpoints, 'Checkpoints', StepClocked)
  # Epochs of 20 steps, a score at 15, 35, ..., 95 yielded after the checkpoint at 20, 40, ..., 100.
  params = configs.resolve({'tasks': ['dummy'], 'max_steps': 100, 'checkpoint_every': 10, 'seed': 7,
                            'isolate_envs': 'none'}, 'debug')

  def run(stop_after=None):
    process = train.process(params, str(tmp_path))
    for count, _ in enumerate(process, 1):
      if count == stop_after:
        process.close()

  seen = []
  for stop_after in (1, 2, 1):
    run(stop_after)
    seen.append(on_disk(tmp_path))
  assert seen == [[20], [40, 60], [40, 60, 80]]  # 20 deleted at 60; 40 kept for good at 80
  (tmp_path / 'model.ckpt-80.index').write_bytes(b'garbage')
  with caplog.at_level(logging.INFO, logger='planet'):
    run()  # falls back to 60, saves 80 again and 100, where 60 is deleted
  assert any(r.message.endswith('model.ckpt-60 at step 60.') for r in caplog.records)
  assert on_disk(tmp_path) == KEPT
  assert sorted(os.listdir(tmp_path / 'corrupt')) == [
      'model.ckpt-80.data-00000-of-00001', 'model.ckpt-80.index']
