"""The precision param (planet/tools/precision.py): the dtype policy for faked devices, the refusal on
CPUs without bfloat16 hardware, float32 variables and distributions under 16, losses close to float32's,
and a debug run with precision 16."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from planet import models
from planet.errors import ConfigError
from planet.models import world_model
from planet.scripts import build
from planet.scripts import configs
from planet.tools import precision
from planet.training import learner as learner_lib

GPU = ('/physical_device:GPU:0',)
ZEN3_FLAGS = frozenset('fpu sse2 avx avx2 fma'.split())  # AMD EPYC Zen 3: no bfloat16 hardware
ZEN4_FLAGS = ZEN3_FLAGS | {'avx512f', 'avx512_bf16'}
SAPPHIRE_RAPIDS_FLAGS = ZEN3_FLAGS | {'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile'}


def machine_supports_16():
  try:
    precision.compute_dtype(16)
    return True
  except ConfigError:
    return False


def test_policy_for_faked_devices():
  assert precision.choose(32, GPU, SAPPHIRE_RAPIDS_FLAGS) == 'float32'
  assert precision.choose(32, (), ZEN3_FLAGS) == 'float32'
  assert precision.choose(16, GPU, ZEN3_FLAGS) == 'float16'  # the layers run on the GPU
  assert precision.choose(16, GPU, SAPPHIRE_RAPIDS_FLAGS) == 'float16'
  assert precision.choose(16, (), SAPPHIRE_RAPIDS_FLAGS) == 'bfloat16'  # AMX
  assert precision.choose(16, (), ZEN4_FLAGS) == 'bfloat16'  # AVX512-BF16
  assert precision.loss_scaling('float16')
  assert not precision.loss_scaling('bfloat16') and not precision.loss_scaling('float32')
  assert precision.keras_policy('float32') == 'float32'
  assert precision.keras_policy('bfloat16') == 'mixed_bfloat16'


def test_cpu_without_bfloat16_refuses_16_in_one_line():
  with pytest.raises(ConfigError) as error:
    precision.choose(16, (), ZEN3_FLAGS)
  message = str(error.value)
  assert '\n' not in message
  assert "'precision'" in message and 'bfloat16' in message and 'allowed: 32' in message
  with pytest.raises(ConfigError, match='allowed: 16, 32'):
    precision.choose(8, (), ZEN4_FLAGS)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
  path = tmp_path / 'cpuinfo'
  path.write_text('processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16\n\n'
                  'processor\t: 1\nflags\t\t: fpu avx2 avx512_bf16\n')
  assert precision.cpu_flags(str(path)) == {'fpu', 'avx2', 'avx512_bf16'}
  assert precision.cpu_flags(str(tmp_path / 'missing')) == frozenset()


@pytest.fixture
def fake_machine(monkeypatch):
  """Makes the params check see the given GPUs and CPU flags."""
  def fake(gpus, flags):
    monkeypatch.setattr(precision, 'gpus', lambda: gpus)
    monkeypatch.setattr(precision, 'cpu_flags', lambda: flags)
    precision.compute_dtype.cache_clear()
  yield fake
  precision.compute_dtype.cache_clear()


def test_params_check(fake_machine):
  assert configs.resolve({})['precision'] == 32
  fake_machine((), ZEN3_FLAGS)
  with pytest.raises(ConfigError, match="params key 'precision': got 16, but this machine has no GPU"):
    configs.resolve({'precision': 16})
  assert configs.resolve({'precision': 32})['precision'] == 32
  with pytest.raises(ConfigError, match="params key 'precision': got 64"):
    configs.resolve({'precision': 64})
  fake_machine((), ZEN4_FLAGS)
  params = configs.resolve({'precision': 16})
  assert params['precision'] == 16 and build.model_config(params).compute_dtype == 'bfloat16'
  fake_machine(GPU, ZEN3_FLAGS)
  assert build.model_config(configs.resolve({'precision': 16})).compute_dtype == 'float16'
  with pytest.raises(ConfigError, match="params key 'jit_compile'"):
    configs.resolve({'jit_compile': 'yes'})


def tiny(compute_dtype, **overrides):
  """A debug-sized model config, mean_only so that two models see no noise."""
  params = configs.resolve({'mean_only': True, **overrides}, 'debug')
  return params, dataclasses.replace(build.model_config(params), compute_dtype=compute_dtype)


def data(batch=2, length=4, actions=2, seed=0):
  rng = np.random.RandomState(seed)
  # Smooth images, as real frames are, so that the log-likelihoods are not all noise.
  image = np.repeat(np.repeat(rng.uniform(-0.5, 0.5, (batch, length, 8, 8, 3)), 8, 2), 8, 3)
  return {'image': tf.constant(image, tf.float32),
          'action': tf.constant(rng.uniform(-1, 1, (batch, length, actions)), tf.float32),
          'reward': tf.constant(rng.randn(batch, length), tf.float32)}


@pytest.mark.slow  # a train step per model, in bfloat16 (emulated where the CPU has no bf16)
@pytest.mark.parametrize('name', sorted(models.MODELS))
def test_variables_and_distributions_stay_float32_under_16(name):
  params, config = tiny('bfloat16', model=name)
  model = world_model.WorldModel(config, action_size=2)
  learner = learner_lib.Learner(model, build.objective_config(params, model))
  assert {v.dtype for v in model.trainable_variables} == {tf.float32}
  assert {v.dtype for v in learner.optimizer.variables} <= {tf.float32, tf.int64}
  batch = data()
  embedding = model.encoder(batch['image'])
  assert embedding.dtype == tf.bfloat16  # the layers compute in bfloat16
  post, prior = model.cell.observe(embedding, batch['action'])
  for state in (post, prior):
    assert {v.dtype for v in state.values()} == {tf.float32}
  features = model.cell.features(post)
  assert model.decoder(features).mean().dtype == tf.float32
  assert model.reward(features).mean().dtype == tf.float32
  learner.compile({k: tf.TensorSpec(v.shape, v.dtype) for k, v in batch.items()})
  metrics = learner.train(batch)
  assert all(v.dtype == tf.float32 and np.isfinite(v.numpy()) for v in metrics.values())
  assert {v.dtype for v in model.trainable_variables} == {tf.float32}


def test_losses_under_16_are_finite_and_close_to_32():
  results, weights = {}, None
  for dtype in ('float32', 'bfloat16'):
    params, config = tiny(dtype, free_nats=None)
    model = world_model.WorldModel(config, action_size=2)
    weights = weights or [v.numpy() for v in model.trainable_variables]
    for variable, value in zip(model.trainable_variables, weights):  # the same weights
      variable.assign(value)
    learner = learner_lib.Learner(model, build.objective_config(params, model))
    learner.compile({k: tf.TensorSpec(v.shape, v.dtype) for k, v in data().items()})
    results[dtype] = {k: float(v) for k, v in learner.test(data()).items()}
  for key, value in results['float32'].items():
    assert np.isfinite(results['bfloat16'][key])
    assert abs(results['bfloat16'][key] - value) <= 0.02 * abs(value) + 1e-3, key


def test_float16_trains_with_dynamic_loss_scaling():
  """The GPU policy's code path, run on the CPU at a tiny size."""
  params, config = tiny('float16')
  model = world_model.WorldModel(config, action_size=2)
  learner = learner_lib.Learner(model, build.objective_config(params, model))
  assert learner.loss_scaling
  assert isinstance(learner.optimizer, keras.mixed_precision.LossScaleOptimizer)
  assert model.encoder(data()['image']).dtype == tf.float16
  learner.compile({k: tf.TensorSpec(v.shape, v.dtype) for k, v in data().items()})
  before = [v.numpy() for v in model.trainable_variables]
  for _ in range(3):
    metrics = {k: float(v) for k, v in learner.train(data()).items()}
    assert all(np.isfinite(v) for v in metrics.values())
  assert {v.dtype for v in model.trainable_variables} == {tf.float32}
  assert any(not np.array_equal(a, v.numpy()) for a, v in zip(before, model.trainable_variables))


def test_checkpoints_are_the_same_for_both_precisions(tmp_path):
  keys = []
  for dtype in ('float32', 'bfloat16'):
    _, config = tiny(dtype)
    model = world_model.WorldModel(config, action_size=2)
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / dtype))
    keys.append(tf.train.list_variables(path))
  assert keys[0] == keys[1]


@pytest.mark.slow  # the train command in a subprocess
def test_debug_run_with_precision_16(run_train, tmp_path):
  logdir = str(tmp_path / 'logs')
  args = ('--logdir', logdir, '--config', 'debug', '--params',
          '{tasks: [dummy], max_steps: 30, precision: 16, isolate_envs: none}')
  code, stdout, stderr = run_train(*args)
  if not machine_supports_16():  # A CPU without bfloat16 hardware: the params check refuses.
    assert code == 2, stderr[-3000:]
    assert stderr.strip().splitlines() == [stderr.strip()]
    assert "'precision'" in stderr and 'bfloat16' in stderr
    assert not os.path.exists(logdir)  # nothing written
    return
  assert code == 0, stderr[-3000:]
  run = os.path.join(logdir, '00001')
  assert os.path.exists(os.path.join(run, 'DONE'))
  assert configs.load(os.path.join(run, 'params.yaml'))['precision'] == 16
  assert os.path.exists(os.path.join(run, 'model.ckpt-30.index'))
  assert 'Score' in stdout


@pytest.mark.parametrize('kind', ['dense', 'conv', 'deconv'])
def test_bias_gradients_sum_in_float32_under_bfloat16(kind):
  """TensorFlow's BiasAddGrad sums in bfloat16: summed over thousands of positions, a bias gradient
  stops growing at a few hundred. networks/basic.py's `apply` adds the bias so that the sum runs in
  float32: here every position contributes exactly 1."""
  from planet.networks import basic
  make = {'dense': lambda: keras.layers.Dense(8, dtype='mixed_bfloat16'),
          'conv': lambda: keras.layers.Conv2D(8, 4, 2, dtype='mixed_bfloat16'),
          'deconv': lambda: keras.layers.Conv2DTranspose(8, 6, 2, dtype='mixed_bfloat16')}[kind]
  layer = make()
  x = tf.random.normal({'dense': [20000, 16], 'conv': [16, 64, 64, 3], 'deconv': [16, 30, 30, 4]}[kind])
  basic.apply(layer, x[:1])  # builds the layer
  with tf.GradientTape() as tape:
    y = basic.apply(layer, x)
    assert y.dtype == tf.bfloat16
    loss = tf.reduce_sum(tf.cast(y, tf.float32))
  grad = tape.gradient(loss, layer.bias)
  positions = int(np.prod(y.shape[:-1]))
  assert positions > 10000
  np.testing.assert_allclose(grad.numpy(), positions, rtol=0.01)
