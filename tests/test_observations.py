"""Runs whose model sees the task's state vector, alone or beside the image: to the end, with the
summaries and checkpoints such a model has (and no image predictions without the image)."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from planet.tools import episodes


def tags(logdir, phase):
  accumulator = event_accumulator.EventAccumulator(os.path.join(logdir, phase),
                                                   size_guidance={'tensors': 0})
  accumulator.Reload()
  return set(accumulator.Tags()['tensors'])


def variables(logdir):
  return {name for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(logdir))}


@pytest.mark.slow
@pytest.mark.parametrize('observations', [['state'], ['image', 'state']])
def test_debug_run_with_state_observations(debug_run, observations):
  run = debug_run(tasks=['cartpole_balance'], observations=observations, max_steps=40, seed=0)
  assert len(run.scores) == 2 and all(np.isfinite(run.scores))
  model = run.trainer.model
  assert model.observations == tuple(observations)
  assert model.state_components == {'position': (3,), 'velocity': (2,)}
  train = tags(run.logdir, 'train')
  assert {'objectives/state', 'objectives/reward', 'objectives/divergence',
          'closedloop/vector/abs_error', 'openloop/vector/abs_error'} <= train
  image = 'image' in observations
  assert ('objectives/image' in train) == image
  assert ('openloop/image/animation' in train) == image
  assert ('data/image' in train) == image
  # The test episode's GIF shows the rendered frames, whatever the model sees.
  assert 'simulation/test_main_cartpole_balance/animation' in tags(run.logdir, 'test')
  names = variables(run.logdir)
  assert any(name.startswith('model/state_encoder/') for name in names)
  assert any(name.startswith('model/state_decoder/') for name in names)
  assert any(name.startswith('model/encoder/') for name in names) == image
  # Episodes keep every component and the rendered frames.
  path = episodes.filenames(os.path.join(run.logdir, 'test_episodes'))[-1]
  episode = episodes.load(path)
  assert episode['position'].shape == (21, 3) and episode['velocity'].shape == (21, 2)
  assert episode['image'].shape == (21, 64, 64, 3)


@pytest.mark.slow
def test_debug_run_of_a_gymnasium_env_from_its_state_vector(debug_run):
  """Pendulum-v1's 3-number observation (cos, sin, angular velocity) as the state vector."""
  run = debug_run(tasks=['gym:Pendulum-v1'], observations=['state'], max_steps=40, seed=0,
                  task_settings={'gym:Pendulum-v1': {'action_repeat': 10}})
  assert len(run.scores) == 2 and all(np.isfinite(run.scores))
  assert run.trainer.model.state_components == {'state': (3,)}
  assert run.trainer.model.observations == ('state',)
  assert 'objectives/state' in tags(run.logdir, 'train')
  assert not [tag for tag in tags(run.logdir, 'train') if 'image' in tag]
