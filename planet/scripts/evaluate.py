"""Evaluates a run's latest checkpoint: noise-free test episodes and a video with the model's open-loop
prediction beside the real frames.

  python3 -m planet.scripts.evaluate --logdir logs/cheetah/00001 [--episodes 5] [--video out.mp4]
      [--scale 4] [--seed 0] [--params '{planner_amount: 1000, planner_topk: 100}']

Prints the checkpoint file and global step it loaded, the planner's settings, each episode's return as
it ends, then for each task the mean and standard deviation of the returns of --episodes episodes
without exploration noise, each with a different environment seed (--seed, --seed + 1, ...). The video
(default `<logdir>/evaluation.mp4`; with several tasks one file per task, `evaluation_<task>.mp4`) shows
the first episode: the real frames on the left, titled "real", and on the right, titled "model, open
loop", the model's reconstruction of the first 5 frames followed by its open-loop prediction from the
episode's actions alone (a model that sees only the state vector predicts no images: the video then
shows the rendered frames alone). The 64x64 frames are enlarged --scale times (nearest neighbour) so
that small details such as a cart's pole stay visible.

The agent plans as the run's (first) test collection did: the params' planner settings, or the collect
spec's own `horizon`, `objective`, `planner_amount`, `planner_topk` and `planner_iterations` where it
sets them. --params changes how the agent acts, not the model: a YAML mapping of the planner's keys
(planner, planner_amount, planner_topk, planner_iterations, planner_horizon, collect_objective), each
over the run's value and the test collection's, e.g. to score a model trained with a small CPU planner
under the paper's 1000 candidates, top 100, 10 iterations. The agent's planner settings are printed
before the episodes.
"""

import gc
import os
import sys

import numpy as np

from planet.scripts import create_video
from planet.tools import cli
from planet.tools import quiet_start

TITLES = ('real', 'model, open loop')
MAX_SCALE = 8  # A 1000-frame episode at 8x is already ~1.6 GB of frames in memory.
FPS = 20
# The params that change how the agent acts without changing the model (--params). Where the run's test
# collection sets its own value of one (configs.COLLECT_DEFAULTS), the --params value replaces it.
ACTING_KEYS = ('planner', 'planner_amount', 'planner_topk', 'planner_iterations', 'planner_horizon',
               'collect_objective')


class UserError(Exception):
  """Bad input found after the arguments were checked (a run's files); its message is one line."""


def latest_checkpoint(logdir):
  import tensorflow as tf
  latest = tf.train.latest_checkpoint(logdir)
  if not latest:
    raise UserError(f'--logdir {logdir!r} has no checkpoint (model.ckpt-*); train the run first.')
  return latest


def load_model(path, params, action_size, shapes=None):
  """(world model with the checkpoint at `path` restored, the global step it was saved at);
  `shapes` are the task's observation shapes (for state observations)."""
  import tensorflow as tf
  from planet.scripts import build
  model = build.model(params, action_size, shapes)
  step = tf.Variable(0, dtype=tf.int64, trainable=False)
  checkpoint = tf.train.Checkpoint(model=model, step=step)
  try:  # The trainer's checkpoint also holds the optimizer, which is not needed here.
    checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    message = create_video.one_line(e)
  else:
    return model, int(step.numpy())
  # A failed restore leaves pending values that TensorFlow warns about, one line each, when they are
  # collected: collect them now, quietly, so that the error stays one line.
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel('ERROR')
  try:
    del checkpoint, model, step
    gc.collect()
  finally:
    logger.setLevel(level)
  raise UserError(f'cannot restore {path} into the model of its params.yaml: {message}')


def open_loop_frames(model, episode, image_bits):
  """[T, 64, 64, 3] uint8 frames the model predicts for an episode (summaries.open_loop); None when
  the model does not predict images."""
  import tensorflow as tf
  from planet.tools import preprocess
  from planet.tools import summaries
  if 'image' not in model.observations:
    return None
  data = {key: tf.constant(episode[key][None]) for key in ('action',) + model.input_keys}
  data['image'] = preprocess.preprocess(episode['image'][None], image_bits)
  features = model.cell.features(summaries.open_loop(model, data))
  prediction = preprocess.postprocess(model.decoder(features).mean(), image_bits)
  return (np.clip(prediction.numpy()[0], 0, 1) * 255).astype(np.uint8)


def title_bar(titles, width, height):
  """[height, width * len(titles), 3] uint8: each title centred, white on dark grey, over its part."""
  from PIL import Image, ImageDraw, ImageFont
  image = Image.new('RGB', (width * len(titles), height), (40, 40, 40))
  draw = ImageDraw.Draw(image)
  for index, title in enumerate(titles):
    size = int(0.7 * height)
    font = ImageFont.load_default(size)
    while size > 6 and draw.textlength(title, font=font) > width - 4:
      size -= 1
      font = ImageFont.load_default(size)
    left, top, right, bottom = draw.textbbox((0, 0), title, font=font)
    position = (index * width + (width - right + left) // 2 - left, (height - bottom + top) // 2 - top)
    draw.text(position, title, fill=(255, 255, 255), font=font)
  return np.asarray(image)


def compose(real, predicted, scale=4):
  """[T, H, W, 3] real and predicted uint8 frames -> [T, bar + H * scale, 2 * W * scale, 3] video frames:
  the two side by side, enlarged `scale` times by nearest neighbour, under a title bar naming each half.
  Without predicted frames (a model that does not predict images) the real frames alone."""
  parts = [real] if predicted is None else [real, predicted]
  frames = np.concatenate(parts, 2).repeat(scale, 1).repeat(scale, 2)
  bar = title_bar(TITLES[:len(parts)], real.shape[2] * scale, max(12, 5 * scale))
  return np.concatenate([np.broadcast_to(bar, (len(frames),) + bar.shape), frames], 1)


def evaluate(logdir, params, episodes=5, seed=0):
  """Returns {task: returns} and {task: (real, predicted) [T, 64, 64, 3] frames of the first episode}."""
  import tensorflow as tf
  from planet.scripts import build

  path = latest_checkpoint(logdir)
  task_list = build.tasks(params)
  shapes = {key: space.shape for key, space in task_list[0].observation_space.spaces.items()}
  model, step = load_model(path, params, task_list[0].action_space.shape[0], shapes)
  print(f'Loaded {path} (step {step:,}).', flush=True)
  collect = build.collects(params, 'test')[0]
  print(planner_line(params['planner'], collect), flush=True)
  tf.random.set_seed(seed)
  agent = build.agent(params, model, 1, collect.horizon, collect.objective, collect.planner_amount,
                      collect.planner_topk, collect.planner_iterations)
  returns, videos = {}, {}
  for task in task_list:
    returns[task.name] = []
    simulation = build.simulation(params, task, agent)
    try:
      for index in range(episodes):
        result = simulation.run(0.0, seeds=[seed + index])
        returns[task.name].append(result['return'])
        print(f'{task.name}: episode {index + 1}/{episodes} (seed {seed + index}): return '
              f'{result["return"]:.1f}', flush=True)
        if index == 0 and 'image' in result['episodes'][0]:
          episode = result['episodes'][0]
          videos[task.name] = (episode['image'], open_loop_frames(model, episode, params['image_bits']))
    finally:
      simulation.close()
  return returns, videos


def video_paths(video, tasks):
  """{task: path}: `video` itself for one task, `<name>_<task><ext>` for each of several."""
  if len(tasks) == 1:
    return {tasks[0]: video}
  root, extension = os.path.splitext(video)
  return {task: f'{root}_{task}{extension}' for task in tasks}


def _check(args):
  """What is wrong with the arguments (one line), before anything is loaded; or None."""
  if args.episodes < 1:
    return f'--episodes {args.episodes}: allowed: a positive number of episodes.'
  if not 1 <= args.scale <= MAX_SCALE:
    return f'--scale {args.scale}: allowed: an integer from 1 to {MAX_SCALE}.'
  if args.seed < 0:
    return f'--seed {args.seed}: allowed: 0 or a positive integer.'
  if not os.path.isfile(os.path.join(args.logdir, 'params.yaml')):
    return f'--logdir {args.logdir!r} is not a run directory (no params.yaml).'
  return create_video.check_animation_path(args.video, '--video')


def _load_params(logdir, text=None):
  """The run's params with the --params `text` (acting keys only) over them and over the test
  collections' own values of those keys."""
  from planet.errors import ConfigError
  from planet.scripts import configs
  try:  # Fills in keys added since the run started, as a resumed run does.
    params = configs.load_run(os.path.join(logdir, 'params.yaml'))
  except ConfigError as e:
    raise UserError(str(e)) from None
  overrides = configs.parse_params(text)
  for key in overrides:
    if key not in ACTING_KEYS:
      raise UserError(f'--params: {key!r} cannot change for an evaluation (it is the model\'s or the '
                      f'run\'s); allowed: {", ".join(ACTING_KEYS)}.')
  for spec in params['test_collects']:
    for key, param in configs.COLLECT_DEFAULTS.items():
      if param in overrides:
        spec.pop(key, None)
  try:
    return configs.resolve(overrides, params)
  except ConfigError as e:
    raise UserError(f'--params: {e}') from None


def planner_line(planner, collect):
  """The settings the agent plans with (the planner's name and a collect's sizes), one line."""
  return (f'Planner: {planner}, {collect.planner_amount} candidates, top {collect.planner_topk}, '
          f'{collect.planner_iterations} iterations, horizon {collect.horizon}, objective '
          f'{collect.objective}.')


def main(argv=None):
  quiet_start.install()
  parser = cli.Parser(__doc__)
  parser.add_argument('--logdir', required=True, help='a run directory, e.g. logs/x/00001')
  parser.add_argument('--episodes', type=int, default=5, help='episodes per task (default: 5)')
  parser.add_argument('--seed', type=int, default=0,
                      help='environment seed of the first episode, +1 for each further one (default: 0)')
  parser.add_argument('--video', help='.mp4 or .gif (default: <logdir>/evaluation.mp4)')
  parser.add_argument('--scale', type=int, default=4,
                      help=f'enlarge the 64x64 frames this many times, 1 to {MAX_SCALE} (default: 4)')
  parser.add_argument('--params', default=None,
                      help='YAML mapping of planner keys to act with instead of the run\'s: '
                      + ', '.join(ACTING_KEYS))
  args = parser.parse_args(argv)
  args.video = args.video or os.path.join(args.logdir, 'evaluation.mp4')
  problem = _check(args)
  if problem:
    print(f'error: {problem}', file=sys.stderr)
    return 2
  from planet.errors import ConfigError
  try:
    params = _load_params(args.logdir, args.params)
    returns, videos = evaluate(args.logdir, params, args.episodes, args.seed)
  except (UserError, ConfigError) as e:  # A bad run directory, or a task that cannot be built here.
    print(f'error: {e}', file=sys.stderr)
    return 2
  paths = video_paths(args.video, list(returns))
  for task, values in returns.items():
    print(f'{task}: return {np.mean(values):.1f} +- {np.std(values):.1f} over {len(values)} episodes '
          f'({", ".join(f"{v:.1f}" for v in values)})')
    if task in videos:  # An env that renders no image has no video.
      create_video.write(compose(*videos[task], args.scale), paths[task], FPS)
      print(f'Wrote {paths[task]}.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
