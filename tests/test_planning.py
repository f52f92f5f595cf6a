"""CEM on objectives with a known optimum, and the agent's tf.function tracing once."""

import types

import numpy as np
import pytest
import tensorflow as tf

from planet.control import mpc_agent
from planet.control import planning
from planet.scripts import build
from planet.scripts import configs


def quadratic(model, states):
  """Return -sum_t ||a_t - target||^2: the optimum is every action equal to the agent's target."""
  del model
  return -tf.reduce_sum((states['action'] - states['target'][:, None]) ** 2, [1, 2])


STUB = types.SimpleNamespace(cell=types.SimpleNamespace(
    imagine=lambda action, state: {'action': action, 'target': state['target']}))


def plan(targets, **kwargs):
  targets = tf.constant(targets, tf.float32)
  state = {'sample': tf.zeros([targets.shape[0], 3]), 'target': targets}
  kwargs = {'horizon': 12, 'amount': 1000, 'topk': 100, 'iterations': 10, **kwargs}
  return planning.cem(STUB, state, targets.shape[1], objective=quadratic, **kwargs).numpy()


def test_finds_the_optimum():
  tf.random.set_seed(0)
  mean = plan([[0.5, -0.3]])
  assert mean.shape == (1, 12, 2)
  np.testing.assert_allclose(mean[0], np.tile([0.5, -0.3], (12, 1)), atol=0.03)


def test_optimum_outside_bounds_is_clipped():
  tf.random.set_seed(0)
  mean = plan([[1.7, -3.0]])
  assert mean.max() <= 1.0 and mean.min() >= -1.0
  # The mean of clipped elites approaches the bound from inside (it averages clipped samples).
  assert mean[0, :, 0].min() > 0.8 and mean[0, :, 1].max() < -0.8


def test_several_agents_each_get_their_own_optimum():
  # The original pairs candidates with the wrong agent's state when more than one agent plans.
  tf.random.set_seed(0)
  mean = plan([[0.6], [-0.6], [0.0]])
  np.testing.assert_allclose(mean[:, :, 0], np.array([[0.6], [-0.6], [0.0]]) * np.ones(12),
                             atol=0.04)


def test_zero_iterations_returns_the_zero_mean():
  np.testing.assert_array_equal(plan([[0.5, 0.5]], iterations=0), np.zeros((1, 12, 2)))


def test_more_iterations_get_closer():
  errors = []
  for iterations in (1, 3, 10):
    tf.random.set_seed(0)
    errors.append(np.abs(plan([[0.5]], iterations=iterations) - 0.5).mean())
  assert errors[0] > errors[1] > errors[2]


@pytest.fixture(scope='module')
def small_model():
  params = configs.resolve({}, 'debug')
  return build.model(params, action_size=2)


@pytest.fixture(scope='module')
def dummy_model():
  """A debug-sized model for the dummy task's 1-dim actions."""
  return build.model(configs.resolve({}, 'debug'), action_size=1)


def test_agent_policy_traces_once_and_respects_bounds(small_model):
  agent = mpc_agent.MPCAgent(small_model, batch_size=1, horizon=4, amount=20, topk=5, iterations=2)
  image = {'image': np.random.RandomState(0).randint(0, 256, (1, 64, 64, 3)).astype(np.uint8)}
  for step in range(4):
    action = agent.policy(image, np.float32(0.3 if step % 2 else 0.0)).numpy()
    assert action.shape == (1, 2) and np.all(np.abs(action) <= 1.0)
  agent.begin_episode()
  agent.policy(image, np.float32(0.0))
  assert agent.policy.experimental_get_tracing_count() == 1


def test_agent_noise(small_model):
  agent = mpc_agent.MPCAgent(small_model, batch_size=1, horizon=2, amount=10, topk=2,
                             iterations=0)
  image = {'image': np.zeros((1, 64, 64, 3), np.uint8)}
  # With zero iterations the plan is the zero mean: no noise gives exactly 0, noise 0.3 its std.
  assert np.all(agent.policy(image, np.float32(0.0)).numpy() == 0.0)
  samples = np.concatenate([agent.policy(image, np.float32(0.3)).numpy() for _ in range(300)])
  assert 0.25 < samples.std() < 0.35
  assert abs(samples.mean()) < 0.05
  # Noise 1.0 is clipped to the bounds.
  samples = np.concatenate([agent.policy(image, np.float32(1.0)).numpy() for _ in range(300)])
  assert samples.max() == 1.0 and samples.min() == -1.0


@pytest.mark.parametrize('batch_size', [1, 3])
def test_in_graph_episode_matches_the_python_loop(tmp_path, dummy_model, batch_size):
  from planet.control import simulate
  params = configs.resolve({'tasks': ['dummy'], 'planner_iterations': 0}, 'debug')
  task = build.task('dummy', params)
  agent = mpc_agent.MPCAgent(dummy_model, batch_size, horizon=3, amount=8, topk=2, iterations=0)
  results = []
  for in_graph in (False, True):
    simulation = simulate.Simulation(task, agent, str(tmp_path / str(in_graph)), seed=7,
                                     batch_size=batch_size, in_graph=in_graph)
    # Zero iterations and no noise: all-zero actions, so both loops see the same seeded envs.
    results.append([simulation.run(0.0) for _ in range(2)])
    simulation.close()
  python, graph = results
  for first, second in zip(python, graph):
    assert first['length'] == second['length'] == 20
    np.testing.assert_allclose(first['returns'], second['returns'], rtol=1e-5)
  assert len(set(r['return'] for r in python)) == 2  # the second episode differs from the first
  assert simulation._loop.run_graph.experimental_get_tracing_count() == 1
  for name in ('True', 'False'):
    files = sorted((tmp_path / name).iterdir())
    assert len(files) == 2 * batch_size


def test_in_graph_episode_with_noise_and_planning(tmp_path, dummy_model):
  from planet.control import simulate
  params = configs.resolve({'tasks': ['dummy']}, 'debug')
  agent = mpc_agent.MPCAgent(dummy_model, 2, horizon=3, amount=8, topk=2, iterations=2)
  simulation = simulate.Simulation(build.task('dummy', params), agent, str(tmp_path), seed=1,
                                   batch_size=2, isolate='thread', in_graph=True)
  result = simulation.run(0.3)
  simulation.close()
  assert result['length'] == 20 and len(result['returns']) == 2
  from planet.tools import episodes
  for path in episodes.filenames(str(tmp_path)):
    episode = episodes.load(path)
    assert len(episode['action']) == 21 and np.abs(episode['action']).max() <= 1.0
    assert np.abs(episode['action'][1:]).min() > 0  # planned actions plus noise, never exactly 0
