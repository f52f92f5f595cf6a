"""Evaluates a run's latest checkpoint: noise-free test episodes and a video with the model's open-loop
prediction beside the real frames.

  python3 -m planet.scripts.evaluate --logdir logs/cheetah/00001 [--episodes 5] [--video out.mp4]

Each episode uses a different environment seed. The video shows the first episode: real frames on the
left, on the right the model's reconstruction for the first 5 frames and then its open-loop prediction
from the episode's actions alone.
"""

import argparse
import os
import sys

import numpy as np

import planet  # noqa: F401  (environment defaults before TensorFlow loads)


def evaluate(logdir, episodes=5, seed=0):
  """Returns {task: returns} and {task: first-episode frames [T, 64, 128, 3]}."""
  import tensorflow as tf
  from planet.control import simulate
  from planet.scripts import build
  from planet.scripts import configs
  from planet.scripts import tasks as tasks_lib
  from planet.tools import preprocess
  from planet.tools import summaries

  params = configs.load(os.path.join(logdir, 'params.yaml'))
  task_list = tasks_lib.tasks(params)
  env = task_list[0].env_ctor()
  action_size = env.action_space.shape[0]
  env.close()
  model = build.model(params, action_size)
  latest = tf.train.latest_checkpoint(logdir)
  if not latest:
    raise FileNotFoundError(f'no checkpoint in {logdir}')
  tf.train.Checkpoint(model=model).restore(latest).expect_partial()
  tf.random.set_seed(seed)
  agent = build.agent(params, model)
  returns, videos = {}, {}
  for task in task_list:
    returns[task.name] = []
    for index in range(episodes):
      simulation = simulate.Simulation(task, agent, None, seed + index)
      returns[task.name].append(simulation.run(0.0)['return'])
      if index == 0:
        episode = simulation.env.envs[0].last_episode
        data = {'image': preprocess.preprocess(episode['image'][None], params['image_bits']),
                'action': tf.constant(episode['action'][None])}
        features = model.cell.features(summaries.open_loop(model, data))
        prediction = preprocess.postprocess(model.decoder(features), params['image_bits'])
        prediction = (np.clip(prediction.numpy()[0], 0, 1) * 255).astype(np.uint8)
        videos[task.name] = np.concatenate([episode['image'], prediction], 2)
      simulation.close()
  return returns, videos


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--logdir', required=True, help='a run directory, e.g. logs/x/00001')
  parser.add_argument('--episodes', type=int, default=5)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--video', help='.mp4 or .gif (default: <logdir>/evaluation.mp4)')
  args = parser.parse_args(argv)
  if not os.path.exists(os.path.join(args.logdir, 'params.yaml')):
    print(f'error: {args.logdir} is not a run directory (no params.yaml)', file=sys.stderr)
    return 2
  from planet.scripts import create_video
  returns, videos = evaluate(args.logdir, args.episodes, args.seed)
  video = args.video or os.path.join(args.logdir, 'evaluation.mp4')
  for task, values in returns.items():
    print(f'{task}: return {np.mean(values):.1f} +- {np.std(values):.1f} over {len(values)} episodes '
          f'({", ".join(f"{v:.1f}" for v in values)})')
    path = video if len(returns) == 1 else video.replace('.', f'_{task}.', 1)
    create_video.write(videos[task], path, fps=20)
    print(f'Wrote {path}.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
