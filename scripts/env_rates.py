"""Step and render rates of task environments, to choose an action repeat and an isolation.

For each task: environment steps per second without rendering (random actions, reset at each episode's
end), renders per second (the env's render() alone, at its own size; dm_control and gymnasium's MuJoCo
envs render at 64x64 directly), resizes per second of one such frame to 64x64x3 as the tasks do it (none
for frames that are already 64x64), and decisions per second of the task's whole env stack at action
repeat 1 (a step, the 64x64 image and the state vector, as the agent gets them).

  python scripts/env_rates.py --tasks gym:CartPole-v1,gym:Pendulum-v1,gym:MountainCar-v0,cartpole_swingup
"""

import argparse
import os
import platform
import subprocess
import time

import numpy as np

import planet  # noqa: F401  (environment defaults before MuJoCo loads)
from planet.control import wrappers
from planet.scripts import tasks


def rate(fn, seconds):
  """Calls per second of `fn` over about `seconds` (after one warm-up call)."""
  fn()
  count, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    fn()
    count += 1
  return count / (time.perf_counter() - start)


def bare_env(name):
  """The env itself, without the task's wrappers."""
  spec = tasks.spec(name)
  if 'env_id' in spec.options:
    import gymnasium
    os.environ.setdefault('SDL_VIDEODRIVER', 'dummy')
    return gymnasium.make(spec.options['env_id'], **spec.options['kwargs'])
  return wrappers.DeepMindEnv(spec.options['domain'], spec.options['task'])


def stepper(env):
  random = np.random.RandomState(0)
  space = env.action_space
  env.reset(seed=0)

  def step():
    action = space.sample() if not hasattr(space, 'low') else random.uniform(
        space.low, space.high).astype(space.dtype)
    _, _, terminated, truncated, _ = env.step(action)
    if terminated or truncated:
      env.reset()
  return step


def measure(name, seconds):
  env = bare_env(name)
  steps = rate(stepper(env), seconds)
  renders = rate(env.render, seconds)
  frame = env.render()
  resizes = rate(lambda: wrappers.to_image(frame), seconds) if frame.shape[:2] != (64, 64) else None
  env.close()
  env = tasks.make(name, 1).env_ctor()
  decisions = rate(stepper(env), seconds)
  env.close()
  return steps, renders, frame.shape, resizes, decisions


def cpu():
  """lscpu's model name, with its family and model (the name alone can be just the vendor's)."""
  try:
    lines = subprocess.run(['lscpu'], capture_output=True, text=True).stdout.splitlines()
  except OSError:
    return platform.processor() or 'unknown CPU'
  fields = dict(line.split(':', 1) for line in lines if ':' in line)
  get = lambda key: fields.get(key, '?').strip()
  return f'{get("Model name")} (family {get("CPU family")}, model {get("Model")}, {os.cpu_count()} CPUs)'


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--tasks', default='gym:CartPole-v1,gym:Pendulum-v1,gym:MountainCar-v0,'
                      'cartpole_swingup', help='comma-separated task names')
  parser.add_argument('--seconds', type=float, default=5.0, help='seconds per figure')
  args = parser.parse_args()
  print(f'{cpu()}, load average {os.getloadavg()[0]:.2f} before')
  print(f'{"task":<20} {"steps/s":>9} {"renders/s":>10} {"frame":>13} {"resizes/s":>10} '
        f'{"decisions/s":>12}')
  for name in args.tasks.split(','):
    steps, renders, shape, resizes, decisions = measure(name, args.seconds)
    resized = '-' if resizes is None else f'{resizes:,.0f}'
    print(f'{name:<20} {steps:>9,.0f} {renders:>10,.0f} {str(shape):>13} {resized:>10} '
          f'{decisions:>12,.0f}', flush=True)
  print(f'load average {os.getloadavg()[0]:.2f} after')


if __name__ == '__main__':
  main()
