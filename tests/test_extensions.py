"""The extension points: each registry gets a second entry here, registered in the test, and the params,
the build step and the code that uses it take it like a built-in one."""

import types

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from planet import models
from planet import networks
from planet.control import PLANNERS
from planet.control import planning
from planet.models import rssm
from planet.scripts import build
from planet.scripts import configs
from planet.scripts import tasks
from planet.scripts.objectives import OBJECTIVES


@pytest.fixture
def registered():
  """`add(registry, name, entry)` registers for one test and removes it afterwards."""
  added = []

  def add(registry, name, entry):
    registry.register(name, entry)
    added.append((registry, name))
  yield add
  for registry, name in added:
    registry.unregister(name)


def test_a_model(registered):
  class Deterministic:
    """A module-like entry: the RSSM with means instead of samples."""

    @staticmethod
    def from_config(config, action_size):
      return rssm.RSSM(config.state_size, config.model_size, config.model_size, mean_only=True)

  registered(models.MODELS, 'deterministic_rssm', Deterministic)
  params = configs.resolve({'model': 'deterministic_rssm'}, 'debug')
  model = build.model(params, action_size=1)
  assert isinstance(model.cell, rssm.RSSM) and model.cell.mean_only
  reference = build.model(configs.resolve({}, 'debug'), action_size=1)
  assert model.num_parameters(model.cell) == reference.num_parameters(reference.cell)


class SmallEncoder(tf.Module):
  """[..., 64, 64, 3] -> [..., 32]: mean-pool to 8x8, one dense layer."""

  def __init__(self, dtype='float32'):
    super().__init__()
    self.dense = keras.layers.Dense(32, tf.nn.relu, dtype=dtype)

  def __call__(self, image):
    batch = tf.shape(image)[:-3]
    x = tf.nn.avg_pool2d(tf.reshape(image, [-1, 64, 64, 3]), 8, 8, 'VALID')
    x = self.dense(tf.reshape(x, [-1, 8 * 8 * 3]))
    return tf.reshape(x, tf.concat([batch, [32]], 0))


class SmallDecoder(tf.Module):
  """[..., F] -> the distribution of [..., 64, 64, 3] images: one dense layer to 8x8x3, upsampled 8x,
  the mean of a unit-variance Normal."""

  def __init__(self, dtype='float32'):
    super().__init__()
    self.dense = keras.layers.Dense(8 * 8 * 3, dtype=dtype)

  def __call__(self, features):
    batch = tf.shape(features)[:-1]
    x = tf.reshape(self.dense(tf.reshape(features, [-1, features.shape[-1]])), [-1, 8, 8, 3])
    x = tf.image.resize(x, [64, 64], 'nearest')
    mean = tf.reshape(x, tf.concat([batch, [64, 64, 3]], 0))
    return tfp.distributions.Independent(tfp.distributions.Normal(mean, 1.0), 3)


def test_a_network(registered):
  registered(networks.NETWORKS, 'small', types.SimpleNamespace(
      encoder=lambda shape, config: SmallEncoder(config.compute_dtype),
      decoder=lambda shape, config: SmallDecoder(config.compute_dtype)))
  params = configs.resolve({'network': 'small', 'tasks': ['dummy']}, 'debug')
  model = build.model(params, action_size=1)
  assert model.num_parameters(model.encoder) == 8 * 8 * 3 * 32 + 32
  assert model.num_parameters(model.decoder) == (5 + 10) * 192 + 192  # features: sample 5 + belief 10
  # The RSSM's posterior layer reads the 32-dim embedding: (belief 10 + 32) x hidden 10 + 10.
  assert model.cell.post_layers[0].kernel.shape == (42, 10)
  learner = build.learner(params, model)
  data = {'image': tf.zeros([5, 10, 64, 64, 3]), 'action': tf.zeros([5, 10, 1]),
          'reward': tf.ones([5, 10])}
  learner.compile({k: tf.TensorSpec(v.shape, v.dtype) for k, v in data.items()})
  metrics = learner.train(data)
  assert np.isfinite(float(metrics['loss'])) and float(metrics['grad_norm']) > 0


def test_a_planner(registered):
  def constant(model, state, action_size, horizon, objective, **unused):
    del model, objective, unused
    return tf.fill([tf.shape(state['sample'])[0], horizon, action_size], 0.25)

  registered(PLANNERS, 'constant', constant)
  params = configs.resolve({'planner': 'constant'}, 'debug')
  agent = build.agent(params, build.model(params, action_size=2))
  action = agent.policy({'image': np.zeros([1, 64, 64, 3], np.uint8)}, np.float32(0.0)).numpy()
  np.testing.assert_array_equal(action, [[0.25, 0.25]])


def test_an_objective(registered):
  """A planner objective is one function plus one line: the planner finds its optimum."""
  def away_from_half(model, states):
    # Negative distance of the actions to -0.5: the planner should move the plan to -0.5.
    del model
    return -tf.reduce_sum((states['action'] + 0.5) ** 2, [1, 2])

  registered(OBJECTIVES, 'minus_half', away_from_half)
  params = configs.resolve({'collect_objective': 'minus_half',
                            'train_collects': [{'objective': 'minus_half'}]}, 'debug')
  assert build.collects(params, 'train')[0].objective == 'minus_half'
  stub = types.SimpleNamespace(cell=types.SimpleNamespace(
      imagine=lambda action, state: {'action': action}))
  tf.random.set_seed(0)
  mean = planning.cem(stub, {'sample': tf.zeros([1, 3])}, 1, horizon=4, amount=500, topk=50,
                      iterations=8, objective=OBJECTIVES['minus_half'])
  np.testing.assert_allclose(mean.numpy(), np.full((1, 4, 1), -0.5), atol=0.05)


def test_a_collect_spec_s_objective_reaches_the_planner_through_the_built_agent(registered):
  """The train collection's `objective` goes from the params through build.Simulations' agent to the
  planner that agent calls; the test collection keeps the params' `collect_objective`."""
  seen = []

  def recording(model, state, action_size, horizon, objective, **unused):
    del model, unused
    seen.append(objective)
    return tf.zeros([tf.shape(state['sample'])[0], horizon, action_size])

  def half(model, states):
    del model
    return -tf.reduce_sum((states['action'] + 0.5) ** 2, [1, 2])

  registered(PLANNERS, 'recording', recording)
  registered(OBJECTIVES, 'minus_half', half)
  params = configs.resolve({'planner': 'recording', 'train_collects': [{'objective': 'minus_half'}]},
                           'debug')
  simulations = build.Simulations(params, build.model(params, action_size=2))
  observation = {'image': np.zeros([1, 64, 64, 3], np.uint8)}
  for phase, expected in (('train', half), ('test', planning.reward_objective)):
    agent = simulations.agent(build.collects(params, phase)[0])
    agent.policy(observation, np.float32(0.0))
    assert seen[-1] is expected, phase


def test_a_collect_spec_s_planner_sizes_reach_the_planner(registered):
  """A test collection with its own planner sizes (train small, test big, as a CPU preset may) plans
  with them; the train collection keeps the params' sizes; the two get different agents."""
  seen = []

  def recording(model, state, action_size, horizon, objective, amount, topk, iterations, **unused):
    del model, objective, unused
    seen.append((horizon, amount, topk, iterations))
    return tf.zeros([tf.shape(state['sample'])[0], horizon, action_size])

  registered(PLANNERS, 'recording', recording)
  params = configs.resolve({'planner': 'recording', 'test_collects': [
      {'planner_amount': 40, 'planner_topk': 4, 'planner_iterations': 3, 'horizon': 6}]}, 'debug')
  simulations = build.Simulations(params, build.model(params, action_size=2))
  observation = {'image': np.zeros([1, 64, 64, 3], np.uint8)}
  agents = {}
  for phase in ('train', 'test'):
    agents[phase] = simulations.agent(build.collects(params, phase)[0])
    agents[phase].policy(observation, np.float32(0.0))
  assert seen == [(12, 5, 2, 2), (6, 40, 4, 3)]  # debug's 5 candidates, top 2, 2 iterations; the spec's
  assert agents['train'] is not agents['test']
  assert simulations.agent(build.collects(params, 'train')[0]) is agents['train']


def test_a_dm_control_task_is_one_line(register_task):
  register_task('hopper_stand', tasks.dm_control('hopper', 'stand', 4, ['position', 'velocity', 'touch']))
  params = configs.resolve({'tasks': ['hopper_stand']}, 'debug')
  task = build.task('hopper_stand', params)
  assert task.max_length == 20 and task.state_components == ['reward', 'position', 'velocity', 'touch']
  env = task.env_ctor()
  obs, _ = env.reset(seed=3)
  assert sorted(obs) == ['image', 'position', 'touch', 'velocity']
  assert obs['image'].shape == (64, 64, 3) and obs['image'].std() > 0
  assert env.action_space.shape == (4,)
  env.close()


def test_an_env_family_is_one_function(register_task, faulty_task):
  # tests/conftest.py: `faulty_env` is an env family (a function) and one TaskSpec line registers it.
  name = faulty_task('raise', times=0)
  params = configs.resolve({'tasks': [name]}, 'debug')
  env = build.task(name, params).env_ctor()
  obs, _ = env.reset(seed=1)
  steps = 0
  done = False
  while not done:
    obs, reward, terminated, truncated, _ = env.step(np.zeros(1, np.float32))
    steps += 1
    done = terminated or truncated
  assert steps == 20 and obs['image'].shape == (64, 64, 3)


def test_unregistered_names_are_errors_that_list_the_registered():
  from planet.errors import ConfigError
  with pytest.raises(ConfigError, match="'planner': got 'mppi'; allowed: cem"):
    configs.resolve({'planner': 'mppi'})
  with pytest.raises(ConfigError, match="'collect_objective': got 'novelty'; allowed: reward"):
    configs.resolve({'collect_objective': 'novelty'})
