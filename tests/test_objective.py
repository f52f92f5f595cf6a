"""Loss values on fixed inputs (spec 5.3, 5.4)."""

import numpy as np
import tensorflow as tf

from planet.models import world_model
from planet.scripts import configs
from planet.training import objective


def test_free_nats_per_batch_element_and_time_step():
  kl = tf.constant([[1.0, 3.0, 5.0], [10.0, 0.0, 3.5]])
  # max(0, KL - 3) elementwise, then the mean: (0 + 0 + 2 + 7 + 0 + 0.5) / 6.
  assert abs(float(objective.free_nats_divergence(kl, 3.0)) - 9.5 / 6) < 1e-6
  assert abs(float(objective.free_nats_divergence(kl, None)) - 22.5 / 6) < 1e-6
  # Not the same as clipping the mean: mean(KL) = 3.75 would give 0.75.
  with tf.GradientTape() as tape:
    tape.watch(kl)
    value = objective.free_nats_divergence(kl, 3.0)
  np.testing.assert_allclose(tape.gradient(value, kl).numpy(), [[0, 0, 1 / 6], [1 / 6, 0, 1 / 6]])


def test_image_log_likelihood_constant():
  target = tf.zeros([64, 64, 3])
  logp = objective.head_log_prob('image', target, target)
  assert logp.shape == ()  # summed over all 12,288 pixel-channels
  assert abs(float(logp) - (-12288 * 0.5 * np.log(2 * np.pi))) < 0.05  # float32 sum of 12,288 terms
  assert abs(float(logp) + 11291.92) < 0.05
  # Half the sum of squared errors on top of the constant.
  logp = objective.head_log_prob('image', target + 0.5, target)
  assert abs(float(logp) - (-11291.92 - 0.5 * 12288 * 0.25)) < 0.05


def test_loss_scales_in_original_order():
  params = configs.resolve({})
  assert list(objective.loss_scales(params).items()) == [
      ('reward', 10.0), ('divergence', 1.0), ('image', 1.0)]
  params = configs.resolve({'divergence_scale': 0.0})
  assert 'divergence' not in objective.loss_scales(params)


def test_total_loss_is_the_scaled_sum():
  tf.random.set_seed(1)
  params = configs.resolve({}, 'debug')
  model = world_model.WorldModel(params, action_size=2)
  data = {'image': tf.random.uniform([2, 4, 64, 64, 3]) - 0.5,
          'action': tf.random.uniform([2, 4, 2], -1, 1), 'reward': tf.random.uniform([2, 4])}
  tf.random.set_seed(2)
  loss, objectives = objective.compute(model, data, params)
  assert set(objectives) == {'reward', 'divergence', 'image'}
  expected = (-10 * objectives['reward'] + objectives['divergence'] - objectives['image'])
  assert abs(float(loss) - float(expected)) < 1e-2
  assert float(objectives['divergence']) >= 0.0
  # The constant -11,291.92 plus half the squared error of at most (0.5 + |decoder output|)^2 a pixel.
  assert -11291.92 - 0.5 * 12288 < float(objectives['image']) < -11291.92
