"""Every latent model: state shapes and trainable parameter counts computed by hand,
the deterministic preset's rollouts, and the registry."""

import numpy as np
import pytest
import tensorflow as tf

from planet import models
from planet.scripts import build
from planet.scripts import configs

from conftest import GRU, dense, rssm_count


def gru(inputs, units):
  return (inputs + units) * 2 * units + 2 * units + (inputs + units) * units + units


def ssm_count(action_size, state=30, hidden=200, embedding=1024):
  prior = dense(state + action_size, hidden) + 2 * dense(hidden, state)
  posterior = dense(2 * state + embedding, hidden) + 2 * dense(hidden, state)
  return prior + posterior


def drnn_count(action_size, state=30, belief=200, hidden=200, embedding=1024, **flags):
  f = {'encoder_to_decoder': False, 'sample_to_sample': True, 'sample_to_encoder': True,
       'decoder_to_encoder': False, 'decoder_to_sample': True, 'action_to_decoder': False, **flags}
  encoder_in = (embedding + action_size + state * f['sample_to_encoder']
                + belief * f['decoder_to_encoder'])
  sample_in = belief + state * f['sample_to_sample'] + belief * f['decoder_to_sample']
  decoder_in = state + belief * f['encoder_to_decoder'] + action_size * f['action_to_decoder']
  return (gru(encoder_in, belief) + dense(sample_in, hidden) + 2 * dense(hidden, state)
          + gru(decoder_in, belief))


def test_hand_counts():
  assert gru(200, 200) == GRU
  assert ssm_count(1) == 247_520
  assert drnn_count(1) == 990_460
  # encoder GRU in 1024+6+30+200, sample layer in 200+30+200, decoder GRU in 30+6:
  assert drnn_count(6, decoder_to_encoder=True, action_to_decoder=True) == (
      876_600 + 86_200 + 12_060 + 142_200) == 1_117_060


SHAPES = {
    'rssm': ({'mean': 30, 'stddev': 30, 'sample': 30, 'belief': 200}, 230),
    'ssm': ({'mean': 30, 'stddev': 30, 'sample': 30}, 30),
    'drnn': ({'encoder_state': 200, 'decoder_state': 200, 'mean': 30, 'stddev': 30, 'sample': 30},
             200),
}


@pytest.mark.parametrize('name', sorted(models.MODELS))
def test_state_shapes_and_counts(name):
  params = configs.resolve({'model': name})
  cell = models.build(build.model_config(params), action_size=6)
  post, prior = cell.observe(tf.zeros([3, 4, 1024]), tf.zeros([3, 4, 6]))
  sizes, feature_size = SHAPES[name]
  for state in (post, prior):
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: (3, 4, n) for k, n in sizes.items()}
  assert cell.features(post).shape == (3, 4, feature_size)
  imagined = cell.imagine(tf.zeros([3, 5, 6]), tf.nest.map_structure(lambda x: x[:, -1], post))
  assert cell.features(imagined).shape == (3, 5, feature_size)
  count = sum(v.shape.num_elements() for v in cell.trainable_variables)
  assert count == {'rssm': rssm_count, 'ssm': ssm_count, 'drnn': drnn_count}[name](6)
  assert float(tf.reduce_min(prior['stddev'])) >= 0.1  # min_stddev is added to the softplus


@pytest.mark.parametrize('flag', [
    'encoder_to_decoder', 'sample_to_sample', 'sample_to_encoder', 'decoder_to_encoder',
    'decoder_to_sample', 'action_to_decoder'])
def test_drnn_wiring_flags_change_the_inputs(flag):
  default = configs.PARAMS[f'drnn_{flag}'][0]
  params = configs.resolve({'model': 'drnn', f'drnn_{flag}': not default})
  cell = models.build(build.model_config(params), action_size=2)
  cell.observe(tf.zeros([1, 2, 1024]), tf.zeros([1, 2, 2]))
  count = sum(v.shape.num_elements() for v in cell.trainable_variables)
  assert count == drnn_count(2, **{flag: not default})
  assert count != drnn_count(2)


def test_world_model_with_each_cell_decodes_its_features():
  for name, (_, feature_size) in SHAPES.items():
    params = configs.resolve({'model': name}, 'debug')
    model = build.model(params, action_size=2)
    assert model.decoder.dense.kernel.shape[0] == model.cell.features(
        model.cell.initial(1)).shape[-1]


def test_deterministic_preset_gives_identical_rollouts():
  params = configs.resolve({}, 'configs/deterministic.yaml')
  assert params['mean_only'] and params['divergence_scale'] == 0.0
  cell = models.build(build.model_config(params), action_size=2)
  embedding, action = tf.random.normal([2, 6, 1024]), tf.random.uniform([2, 6, 2], -1, 1)
  runs = []
  for seed in (1, 2):
    tf.random.set_seed(seed)  # different noise seeds: the model must not use any noise
    post, prior = cell.observe(embedding, action)
    imagined = cell.imagine(action, tf.nest.map_structure(lambda x: x[:, -1], post))
    runs.append((post, prior, imagined))
  for first, second in zip(*runs):
    for key in first:
      np.testing.assert_array_equal(first[key].numpy(), second[key].numpy())
  np.testing.assert_array_equal(runs[0][0]['sample'].numpy(), runs[0][0]['mean'].numpy())


def test_stochastic_models_sample():
  for name in ('rssm', 'ssm', 'drnn'):
    cell = models.build(build.model_config(configs.resolve({'model': name})), action_size=1)
    embedding, action = tf.random.normal([1, 3, 1024]), tf.zeros([1, 3, 1])
    first, _ = cell.observe(embedding, action)
    second, _ = cell.observe(embedding, action)
    assert not np.allclose(first['sample'].numpy(), second['sample'].numpy()), name
