"""Parameter counts computed by hand from the architecture, and shapes."""

import numpy as np
import pytest
import tensorflow as tf

from planet.models import gru
from planet.networks import basic
from planet.networks import conv_ha
from planet.networks import mlp
from planet.scripts import build
from planet.scripts import configs

from conftest import DECODER, ENCODER, GRU, REWARD, dense, rssm_count


def count(module):
  return sum(v.shape.num_elements() for v in module.trainable_variables)


def test_hand_counts_are_the_known_numbers():
  assert ENCODER == 690_144
  assert DECODER == 3_795_555
  assert REWARD == 250_201
  assert GRU == 240_600  # Keras' reset_after=True GRU would have 241,200.
  assert rssm_count(1) == 556_320
  assert rssm_count(6) == 557_320


def test_encoder_shapes_and_count():
  encoder = conv_ha.Encoder()
  out = encoder(tf.zeros([2, 3, 64, 64, 3]))
  assert out.shape == (2, 3, 1024)
  assert count(encoder) == ENCODER
  assert [l.kernel.shape for l in encoder.layers] == [(4, 4, 3, 32), (4, 4, 32, 64), (4, 4, 64, 128),
                                                       (4, 4, 128, 256)]


def test_decoder_shapes_and_count():
  decoder = conv_ha.Decoder()
  image = decoder(tf.zeros([2, 3, 230]))
  assert image.mean().shape == (2, 3, 64, 64, 3)
  assert image.batch_shape == (2, 3) and image.event_shape == (64, 64, 3)
  assert count(decoder) == DECODER


def test_reward_head_count_and_shape():
  head = basic.FeedForward((), 3, 300, 'relu')
  reward = head(tf.zeros([4, 5, 230]))
  assert reward.mean().shape == (4, 5) and reward.event_shape == ()
  assert count(head) == REWARD


def test_world_model_total_matches_the_sum_of_parts():
  params = configs.resolve({'tasks': ['cartpole_swingup']})
  model = build.model(params, action_size=1)
  assert model.num_parameters() == ENCODER + DECODER + REWARD + rssm_count(1) == 5_292_220


def mlp_counts(size, layers=3, units=300):
  """The state encoder (layers x Dense(units)) and decoder (a head with a [size] output)."""
  encoder = dense(size, units) + (layers - 1) * dense(units, units)
  decoder = dense(230, units) + (layers - 1) * dense(units, units) + dense(units, size)
  return encoder, decoder


def test_state_network_counts_and_shapes():
  """cartpole's state vector: position 3 + velocity 2 = 5 numbers."""
  encoder_count, decoder_count = mlp_counts(5)
  assert (encoder_count, decoder_count) == (1_800 + 2 * 90_300, 69_300 + 2 * 90_300 + 1_505)
  config = build.model_config(configs.resolve({'tasks': ['cartpole_balance']}))
  encoder, decoder = mlp.encoder((5,), config), mlp.decoder((5,), config)
  assert encoder(tf.zeros([2, 3, 5])).shape == (2, 3, 300)
  state = decoder(tf.zeros([2, 3, 230]))
  assert state.mean().shape == (2, 3, 5) and state.event_shape == (5,)
  assert (count(encoder), count(decoder)) == (encoder_count, decoder_count)
  with pytest.raises(ValueError, match='takes vectors'):
    mlp.encoder((64, 64, 3), config)
  with pytest.raises(ValueError, match='64x64x3 images'):
    conv_ha.encoder((5,), config)


@pytest.mark.parametrize('observations', [['state'], ['image', 'state'], ['velocity']])
def test_world_model_with_state_observations(observations):
  """The RSSM's posterior reads the concatenated embeddings; each observation has its decoder."""
  params = configs.resolve({'tasks': ['cartpole_balance'], 'observations': observations})
  shapes = {'position': (3,), 'velocity': (2,), 'image': (64, 64, 3)}
  model = build.model(params, action_size=1, shapes=shapes)
  size = 2 if observations == ['velocity'] else 5
  encoder_count, decoder_count = mlp_counts(size)
  image = 'image' in observations
  embedding = 300 + 1024 * image
  expected = (rssm_count(1, embedding=embedding) + REWARD + encoder_count + decoder_count
              + (ENCODER + DECODER) * image)
  assert model.num_parameters() == expected
  assert model.observations == ('image',) * image + ('state',)
  assert sorted(model.heads) == sorted(['reward', 'state'] + ['image'] * image)
  assert params['gradient_heads'] == ['image'] * image + ['state', 'reward']
  data = {'image': tf.zeros([2, 4, 64, 64, 3]), 'position': tf.ones([2, 4, 3]),
          'velocity': tf.fill([2, 4, 2], 2.0), 'action': tf.zeros([2, 4, 1])}
  vector = model.inputs(data)['state']
  expected_vector = [2.0, 2.0] if size == 2 else [1.0, 1.0, 1.0, 2.0, 2.0]
  np.testing.assert_array_equal(vector[0, 0].numpy(), expected_vector)
  assert model.embed(data).shape == (2, 4, embedding)
  assert model.input_keys == ('image',) * image + (
      ('velocity',) if size == 2 else ('position', 'velocity'))


def test_gru_matches_gru_block_cell_equations():
  tf.random.set_seed(0)
  cell = gru.GRUBlockCell(input_size=3, units=4)
  rng = np.random.RandomState(0)
  w_ru, w_c = rng.randn(7, 8) * 0.5, rng.randn(7, 4) * 0.5
  b_ru, b_c = rng.randn(8) * 0.1, rng.randn(4) * 0.1
  for var, value in ((cell.w_ru, w_ru), (cell.w_c, w_c), (cell.b_ru, b_ru), (cell.b_c, b_c)):
    var.assign(value.astype(np.float32))
  x, h = rng.randn(2, 3).astype(np.float32), rng.randn(2, 4).astype(np.float32)
  sigmoid = lambda z: 1 / (1 + np.exp(-z))
  gates = sigmoid(np.concatenate([x, h], 1) @ w_ru + b_ru)
  r, u = gates[:, :4], gates[:, 4:]
  c = np.tanh(np.concatenate([x, r * h], 1) @ w_c + b_c)
  expected = u * h + (1 - u) * c
  np.testing.assert_allclose(cell(x, h).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_gru_initialisation():
  cell = gru.GRUBlockCell(input_size=200, units=200)
  assert count(cell) == GRU
  np.testing.assert_array_equal(cell.b_ru.numpy(), np.ones(400))
  np.testing.assert_array_equal(cell.b_c.numpy(), np.zeros(200))
  limit = (6 / (400 + 400)) ** 0.5
  assert np.abs(cell.w_ru.numpy()).max() <= limit
  assert np.abs(cell.w_ru.numpy()).max() > 0.9 * limit  # glorot-uniform on the stacked shape
