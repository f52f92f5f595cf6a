"""evaluate: a checkpoint's returns, the labelled and enlarged video, and one-line errors for bad input.

The run is made in-process without training: the debug config's params.yaml and an untrained model saved
as the trainer saves it (model, optimizer and global step in `model.ckpt-<step>`)."""

import os

import imageio.v3 as iio
import tf_keras as keras
import numpy as np
import pytest
import tensorflow as tf

from planet.scripts import build
from planet.scripts import configs
from planet.scripts import create_video
from planet.scripts import evaluate

STEP = 12345


@pytest.fixture
def run(tmp_path):
  logdir = str(tmp_path / 'run')
  os.makedirs(logdir)
  params = configs.resolve({'tasks': ['dummy'], 'seed': 0}, 'debug')
  configs.dump(params, os.path.join(logdir, 'params.yaml'))
  model = build.model(params, 1)
  optimizer = keras.optimizers.Adam(1e-3)
  optimizer.build(model.trainable_variables)
  step = tf.Variable(STEP, dtype=tf.int64, trainable=False)
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
  tf.train.CheckpointManager(checkpoint, logdir, 5, checkpoint_name='model.ckpt').save(STEP)
  return logdir, params


def dummy_episode(params, seed):
  """(return, [T, 64, 64, 3] frames) of the dummy task's episode with env seed `seed`: its rewards and
  images are random draws of that seed, whatever the actions."""
  env = build.tasks(params)[0].env_ctor()
  obs, _ = env.reset(seed=seed)
  frames, total, done = [obs['image']], 0.0, False
  while not done:
    obs, reward, terminated, truncated, _ = env.step(np.zeros(1, np.float32))
    frames.append(obs['image'])
    total += float(np.float32(reward))
    done = terminated or truncated
  env.close()
  return total, np.stack(frames)


def enlarge(frames, scale):
  return frames.repeat(scale, 1).repeat(scale, 2)


def test_evaluate_prints_checkpoint_and_returns_and_writes_labelled_video(run, tmp_path, capsys,
                                                                         monkeypatch):
  logdir, params = run
  written = []
  real_write = create_video.write
  monkeypatch.setattr(create_video, 'write', lambda frames, path, fps: (
      written.append((frames, path, fps)), real_write(frames, path, fps)))
  video = str(tmp_path / 'eval.gif')
  assert evaluate.main(['--logdir', logdir, '--episodes', '2', '--video', video, '--scale', '2']) == 0
  (return0, frames0), (return1, _) = dummy_episode(params, 0), dummy_episode(params, 1)
  mean, std = np.mean([return0, return1]), np.std([return0, return1])
  assert capsys.readouterr().out.splitlines() == [
      f'Loaded {logdir}/model.ckpt-{STEP} (step 12,345).',
      'Planner: cem, 5 candidates, top 2, 2 iterations, horizon 12, objective reward.',  # debug's
      f'dummy: episode 1/2 (seed 0): return {return0:.1f}',
      f'dummy: episode 2/2 (seed 1): return {return1:.1f}',
      f'dummy: return {mean:.1f} +- {std:.1f} over 2 episodes ({return0:.1f}, {return1:.1f})',
      f'Wrote {video}.']
  assert std > 1  # two different env seeds
  (frames, path, fps), = written
  assert path == video and fps == 20
  bar = 12  # max(12, 5 * scale) pixels
  assert frames.shape == (21, bar + 2 * 64, 2 * 2 * 64, 3) and frames.dtype == np.uint8
  assert np.array_equal(frames[:, :bar], np.broadcast_to(
      evaluate.title_bar(evaluate.TITLES, 128, bar), (21, bar, 256, 3)))
  assert np.array_equal(frames[:, bar:, :128], enlarge(frames0, 2))  # the real frames, 2x
  predicted = frames[:, bar:, 128:]
  assert np.array_equal(predicted, enlarge(predicted[:, ::2, ::2], 2))  # nearest neighbour
  assert not np.array_equal(predicted[:, ::2, ::2], frames0)
  assert iio.imread(video).shape == (21, bar + 128, 256, 3)
  assert sorted(os.listdir(tmp_path)) == ['eval.gif', 'run']  # no temporary files


def test_evaluate_of_a_state_model_shows_the_rendered_frames_alone(tmp_path, capsys, monkeypatch):
  """A model that sees cartpole's state vector: returns as usual, and a video of the rendered frames
  under the title "real" only (the model predicts no images)."""
  logdir = str(tmp_path / 'run')
  os.makedirs(logdir)
  params = configs.resolve({'tasks': ['cartpole_balance'], 'observations': ['state'], 'seed': 0,
                            'action_repeat': 100}, 'debug')
  configs.dump(params, os.path.join(logdir, 'params.yaml'))
  model = build.model(params, 1, shapes={'position': (3,), 'velocity': (2,)})
  tf.train.CheckpointManager(tf.train.Checkpoint(model=model, step=tf.Variable(5, dtype=tf.int64)),
                             logdir, 5, checkpoint_name='model.ckpt').save(5)
  written = []
  monkeypatch.setattr(create_video, 'write', lambda frames, path, fps: written.append(frames))
  video = str(tmp_path / 'eval.gif')
  assert evaluate.main(['--logdir', logdir, '--episodes', '1', '--video', video, '--scale', '1']) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == f'Loaded {logdir}/model.ckpt-5 (step 5).' and lines[4] == f'Wrote {video}.'
  assert lines[2].startswith('cartpole_balance: episode 1/1 (seed 0): return ')
  assert lines[3].startswith('cartpole_balance: return ') and ' over 1 episodes (' in lines[3]
  frames, = written
  bar = 12
  assert frames.shape == (11, bar + 64, 64, 3)  # 10 decisions of 100 steps, one 64-pixel column
  assert np.array_equal(frames[0, :bar], evaluate.title_bar(('real',), 64, bar))


def recording_agents(monkeypatch):
  """The settings build.agent is called with in evaluate: [(params, (batch, horizon, objective, amount,
  topk, iterations))]; the agents are built as they would be."""
  built = []
  real_agent = build.agent
  monkeypatch.setattr(build, 'agent', lambda p, model, *args: (built.append((p, args)),
                                                               real_agent(p, model, *args))[1])
  monkeypatch.setattr(create_video, 'write', lambda frames, path, fps: None)
  return built


def test_evaluate_acts_with_the_planner_of_params(run, capsys, monkeypatch):
  """--params sets the planner's keys for the evaluation (the model and the run's params.yaml stay)."""
  logdir, params = run
  built = recording_agents(monkeypatch)
  assert evaluate.main(['--logdir', logdir, '--episodes', '1', '--params',
                        '{planner_amount: 7, planner_topk: 3, planner_iterations: 4, planner_horizon: 5}']) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[1] == 'Planner: cem, 7 candidates, top 3, 4 iterations, horizon 5, objective reward.'
  (agent_params, settings), = built
  assert settings == (1, 5, 'reward', 7, 3, 4)
  assert {k: v for k, v in agent_params.items() if not k.startswith('planner_')} == {
      k: v for k, v in params.items() if not k.startswith('planner_')}
  assert configs.load(os.path.join(logdir, 'params.yaml')) == params  # unchanged


def test_evaluate_plans_as_the_run_s_test_collection(tmp_path, capsys, monkeypatch):
  """A run whose test episodes planned with their own sizes is evaluated with them; --params keys
  override the collect spec's own values too."""
  logdir = str(tmp_path / 'run')
  os.makedirs(logdir)
  params = configs.resolve({'tasks': ['dummy'], 'seed': 0, 'test_collects': [
      {'planner_amount': 9, 'planner_topk': 3, 'horizon': 4}]}, 'debug')
  configs.dump(params, os.path.join(logdir, 'params.yaml'))
  tf.train.CheckpointManager(
      tf.train.Checkpoint(model=build.model(params, 1), step=tf.Variable(3, dtype=tf.int64)), logdir, 5,
      checkpoint_name='model.ckpt').save(3)
  built = recording_agents(monkeypatch)
  assert evaluate.main(['--logdir', logdir, '--episodes', '1']) == 0
  assert capsys.readouterr().out.splitlines()[1] == (
      'Planner: cem, 9 candidates, top 3, 2 iterations, horizon 4, objective reward.')
  assert evaluate.main(['--logdir', logdir, '--episodes', '1', '--params',
                        '{planner_amount: 20, planner_horizon: 7}']) == 0
  assert capsys.readouterr().out.splitlines()[1] == (
      'Planner: cem, 20 candidates, top 3, 2 iterations, horizon 7, objective reward.')
  assert [settings for _, settings in built] == [(1, 4, 'reward', 9, 3, 2), (1, 7, 'reward', 20, 3, 2)]


@pytest.mark.parametrize('text, message', [
    ('{batch_shape: [5, 5]}', "--params: 'batch_shape' cannot change for an evaluation (it is the "
     "model's or the run's); allowed: planner, planner_amount, planner_topk, planner_iterations, "
     'planner_horizon, collect_objective.'),
    ('{planner_amount: 10, planner_topk: 20}',
     "--params: params key 'planner_topk': got 20; allowed: at most planner_amount (10).\n"),
    ('{planner_amount: many}', "--params: params key 'planner_amount': got 'many'; allowed: an integer >= 1.\n"),
    ('{planner: cme}', "--params: params key 'planner': got 'cme'; allowed: cem.\n"),
    ('{planner_amount: [1', "--params '{planner_amount: [1' is not valid YAML"),
])
def test_evaluate_bad_params_stop_before_the_model(run, capsys, monkeypatch, text, message):
  logdir, _ = run
  monkeypatch.setattr(evaluate, 'load_model', lambda *args: pytest.fail('loaded a model'))
  before = sorted(os.listdir(logdir))
  assert evaluate.main(['--logdir', logdir, '--params', text]) == 2
  out, err = capsys.readouterr()
  assert out == '' and err.startswith(f'error: {message}') and err.count('\n') == 1, err
  assert sorted(os.listdir(logdir)) == before


def test_compose_enlarges_4x_under_titles():
  real = np.arange(2 * 64 * 64 * 3).reshape(2, 64, 64, 3).astype(np.uint8)
  predicted = 255 - real
  frames = evaluate.compose(real, predicted)
  bar = 20  # max(12, 5 * 4)
  assert frames.shape == (2, bar + 256, 512, 3)
  assert np.array_equal(frames[:, bar:, :256], enlarge(real, 4))
  assert np.array_equal(frames[:, bar:, 256:], enlarge(predicted, 4))
  titles = frames[0, :bar]
  assert np.array_equal(frames[1, :bar], titles)
  for half in (titles[:, :256], titles[:, 256:]):  # white text on the dark grey bar
    assert half[0, 0].tolist() == [40, 40, 40] and half.max() == 255
  # "model, open loop" is longer than "real": more text pixels, and no pixels at the edges of "real".
  assert (titles[:, 256:] > 128).sum() > 2 * (titles[:, :256] > 128).sum() > 0
  assert (titles[:, :64] > 128).sum() == 0


def test_video_paths_per_task():
  assert evaluate.video_paths('out.v1/eval.mp4', ['dummy']) == {'dummy': 'out.v1/eval.mp4'}
  assert evaluate.video_paths('out.v1/eval.mp4', ['a', 'b']) == {
      'a': 'out.v1/eval_a.mp4', 'b': 'out.v1/eval_b.mp4'}


@pytest.mark.parametrize('flags, message', [
    (['--episodes', '0'], '--episodes 0: allowed: a positive number of episodes.'),
    (['--episodes', '-2'], '--episodes -2: allowed: a positive number of episodes.'),
    (['--scale', '0'], '--scale 0: allowed: an integer from 1 to 8.'),
    (['--scale', '9'], '--scale 9: allowed: an integer from 1 to 8.'),
    (['--seed', '-1'], '--seed -1: allowed: 0 or a positive integer.'),
    (['--video', 'x.avi'], "--video 'x.avi': allowed: a path ending in .gif or .mp4."),
    (['--video', 'missing/x.mp4'], "--video 'missing/x.mp4': the folder {tmp}/missing does not exist."),
    (['--logdir', 'nothing'], "--logdir 'nothing' is not a run directory (no params.yaml)."),
    ([], "--logdir 'run' has no checkpoint (model.ckpt-*); train the run first."),
])
def test_evaluate_bad_input_stops_before_any_work(tmp_path, monkeypatch, capsys, flags, message):
  monkeypatch.chdir(tmp_path)
  os.makedirs('run')
  configs.dump(configs.resolve({'tasks': ['dummy']}, 'debug'), os.path.join('run', 'params.yaml'))
  monkeypatch.setattr(evaluate, 'load_model', lambda *args: pytest.fail('loaded a model'))
  assert evaluate.main(['--logdir', 'run', *flags]) == 2
  assert capsys.readouterr() == ('', f'error: {message.format(tmp=tmp_path)}\n')
  assert sorted(os.listdir('run')) == ['params.yaml']


def test_evaluate_checkpoint_of_another_model_is_one_line(run, capsys):
  logdir, params = run
  configs.dump({**params, 'model_size': 20}, os.path.join(logdir, 'params.yaml'))
  assert evaluate.main(['--logdir', logdir]) == 2
  assert capsys.readouterr() == ('', (
      f'error: cannot restore {logdir}/model.ckpt-{STEP} into the model of its params.yaml: Received '
      'incompatible tensor with shape (10,) when attempting to restore variable with shape (20,) and '
      'name b_c:0.\n'))


def test_evaluate_flag_type_error_is_one_line(capsys):
  with pytest.raises(SystemExit) as exit_info:
    evaluate.main(['--logdir', 'run', '--episodes', 'all'])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == "error: argument --episodes: invalid int value: 'all'\n"


@pytest.mark.parametrize('text, message', [
    ('tasks: [dummy', " is not valid YAML (expected ',' or ']'"),
    ('- dummy', ' must be a YAML mapping of params'),
    ('tasks: [nosuch]', ": unknown task 'nosuch'; allowed: cartpole_balance, "),
])
def test_evaluate_bad_params_file_is_one_line(tmp_path, monkeypatch, capsys, text, message):
  monkeypatch.chdir(tmp_path)
  os.makedirs('run')
  with open(os.path.join('run', 'params.yaml'), 'w') as f:
    f.write(text + '\n')
  assert evaluate.main(['--logdir', 'run']) == 2
  out, err = capsys.readouterr()
  assert out == '' and err.startswith(f'error: {os.path.join("run", "params.yaml")}{message}')
  assert err.count('\n') == 1
