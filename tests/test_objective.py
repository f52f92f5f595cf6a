"""Loss values on fixed inputs."""

import numpy as np
import tensorflow as tf

from planet.scripts import build
from planet.scripts import configs
from planet.training import objective


def test_free_nats_per_batch_element_and_time_step():
  kl = tf.constant([[1.0, 3.0, 5.0], [10.0, 0.0, 3.5]])
  # max(0, KL - 3) elementwise, then the mean: (0 + 0 + 2 + 7 + 0 + 0.5) / 6.
  assert abs(float(tf.reduce_mean(objective.free_nats(kl, 3.0))) - 9.5 / 6) < 1e-6
  assert abs(float(tf.reduce_mean(objective.free_nats(kl, None))) - 22.5 / 6) < 1e-6
  # Not the same as clipping the mean: mean(KL) = 3.75 would give 0.75.
  with tf.GradientTape() as tape:
    tape.watch(kl)
    value = tf.reduce_mean(objective.free_nats(kl, 3.0))
  np.testing.assert_allclose(tape.gradient(value, kl).numpy(), [[0, 0, 1 / 6], [1 / 6, 0, 1 / 6]])


def test_image_log_likelihood_constant():
  """The decoder's distribution is a unit-variance Normal summed over all 12,288 pixel-channels."""
  model = build.model(configs.resolve({}, 'debug'), action_size=2)
  image = model.decoder(tf.random.normal([1, 15]))
  mean = image.mean()
  assert mean.shape == (1, 64, 64, 3) and image.event_shape == (64, 64, 3)
  logp = image.log_prob(mean)
  assert logp.shape == (1,)
  assert abs(float(logp[0]) - (-12288 * 0.5 * np.log(2 * np.pi))) < 0.05  # float32 sum of 12,288
  assert abs(float(logp[0]) + 11291.92) < 0.05
  # Half the sum of squared errors on top of the constant.
  logp = image.log_prob(mean + 0.5)
  assert abs(float(logp[0]) - (-11291.92 - 0.5 * 12288 * 0.25)) < 0.05
  reward = model.reward(tf.random.normal([2, 3, 15]))
  assert reward.event_shape == () and reward.log_prob(reward.mean()).shape == (2, 3)


def test_loss_scales_in_original_order():
  params = configs.resolve({}, 'debug')
  model = build.model(params, action_size=2)
  assert list(build.loss_scales(params, model).items()) == [
      ('reward', 10.0), ('divergence', 1.0), ('image', 1.0)]
  params = configs.resolve({'divergence_scale': 0.0}, 'debug')
  assert 'divergence' not in build.loss_scales(params, model)


def test_total_loss_is_the_scaled_sum():
  tf.random.set_seed(1)
  params = configs.resolve({}, 'debug')
  model = build.model(params, action_size=2)
  data = {'image': tf.random.uniform([2, 4, 64, 64, 3]) - 0.5,
          'action': tf.random.uniform([2, 4, 2], -1, 1), 'reward': tf.random.uniform([2, 4])}
  tf.random.set_seed(2)
  loss, objectives = objective.compute(model, data, build.objective_config(params, model))
  assert set(objectives) == {'reward', 'divergence', 'image'}
  expected = (-10 * objectives['reward'] + objectives['divergence'] - objectives['image'])
  assert abs(float(loss) - float(expected)) < 1e-2
  assert float(objectives['divergence']) >= 0.0
  # The constant -11,291.92 plus half the squared error of at most (0.5 + |decoder output|)^2 a pixel.
  assert -11291.92 - 0.5 * 12288 < float(objectives['image']) < -11291.92


def test_global_divergence_is_kl_to_the_unit_gaussian():
  from planet.models import base
  cell = base.Base()
  post = {'mean': tf.constant([[[1.0, 0.0]]]), 'stddev': tf.constant([[[1.0, 2.0]]])}
  unit = {'mean': tf.zeros([1, 1, 2]), 'stddev': tf.ones([1, 1, 2])}
  # KL(N(m, s) || N(0, 1)) = (s^2 + m^2 - 1) / 2 - log s per dimension: 0.5 + (1.5 - log 2).
  expected = 0.5 + 1.5 - np.log(2.0)
  assert abs(float(cell.divergence(post, unit)[0, 0]) - expected) < 1e-5


def test_objectives_of_every_loss_term():
  tf.random.set_seed(3)
  params = configs.resolve({'tasks': ['cheetah_run'], 'state_diagnostics': True,
                            'global_div_scale': 0.5, 'overshooting_scale': 2.0,
                            'overshooting_distance': 3, 'velocity_loss_scale': 0.0}, 'debug')
  model = build.model(params, action_size=6, shapes={'position': (8,), 'velocity': (9,)})
  data = {'image': tf.random.uniform([2, 5, 64, 64, 3]) - 0.5,
          'action': tf.random.uniform([2, 5, 6], -1, 1), 'reward': tf.random.uniform([2, 5]),
          'position': tf.random.normal([2, 5, 8]), 'velocity': tf.random.normal([2, 5, 9])}
  assert list(build.loss_scales(params, model)) == [
      'reward', 'position', 'divergence', 'global_divergence', 'overshooting', 'image']
  with tf.GradientTape(persistent=True) as tape:
    loss, objectives = objective.compute(model, data, build.objective_config(params, model))
  assert set(objectives) == {'reward', 'position', 'divergence', 'global_divergence',
                             'overshooting', 'image'}
  assert all(np.isfinite(float(v)) for v in objectives.values())
  expected = (-10 * objectives['reward'] - objectives['position'] + objectives['divergence']
              + 0.5 * objectives['global_divergence'] + 2.0 * objectives['overshooting']
              - objectives['image'])
  assert abs(float(loss) - float(expected)) < 0.05
  # The diagnostic head trains on stopped-gradient features: it does not shape the model.
  encoder_grads = tape.gradient(objectives['position'], model.encoder.trainable_variables)
  assert all(g is None for g in encoder_grads)
  head_grads = tape.gradient(objectives['position'], model.state_heads['position'].trainable_variables)
  assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in head_grads)
  assert all(g is not None for g in tape.gradient(loss, model.cell.trainable_variables))
