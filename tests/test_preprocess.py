import numpy as np
import tensorflow as tf

from planet.tools import preprocess


def test_preprocess_without_noise_is_five_bit_quantisation():
  image = np.array([0, 7, 8, 100, 255], np.uint8)
  out = preprocess.preprocess(image, bits=5, noise=False).numpy()
  np.testing.assert_allclose(out, np.array([0, 0, 1, 12, 31]) / 32 - 0.5)


def test_preprocess_noise_is_uniform_within_one_bin():
  image = np.full([64, 64, 3], 100, np.uint8)
  out = preprocess.preprocess(image, bits=5).numpy()
  low = 12 / 32 - 0.5
  assert out.min() >= low and out.max() < low + 1 / 32
  assert abs(out.mean() - (low + 1 / 64)) < 0.001  # mean of U[0, 1/32) is 1/64
  assert out.std() > 0.008  # 1/32/sqrt(12) = 0.009


def test_range_is_half_open():
  out = preprocess.preprocess(np.array([0, 255] * 1000, np.uint8)).numpy()
  assert out.min() >= -0.5 and out.max() < 0.5


def test_postprocess_inverts_preprocess():
  image = np.arange(256, dtype=np.uint8)
  x = preprocess.preprocess(image)
  np.testing.assert_allclose(preprocess.postprocess(x).numpy(), (image // 8) / 32)
  np.testing.assert_array_equal(
      preprocess.postprocess(x, dtype=tf.uint8).numpy(), (image // 8) * 8)
