"""The `precision` param: the dtype the layers compute in (docs: README "Mixed precision").

`32` (the default, faithful): float32 everywhere. `16`: the convolutions, dense layers and the GRU compute in
float16 with dynamic loss scaling on a GPU, and in bfloat16 on a CPU with bfloat16 hardware (AMX or
AVX512-BF16); variables, the optimizer, distributions, log-likelihoods and KLs stay float32. A CPU without
bfloat16 hardware refuses `16`: there TensorFlow emulates bfloat16, which is slower than float32.

`choose` is a pure function of the device list and the CPU flags, so that tests can fake either.
"""

import functools

from planet.errors import ConfigError

BF16_CPU_FLAGS = ('amx_bf16', 'avx512_bf16')  # /proc/cpuinfo flags of bfloat16 matmul hardware


def choose(precision, gpus, cpu_flags):
  """The compute dtype name for `precision` (16 or 32) on a machine with `gpus` (names of the GPUs
  TensorFlow sees) and `cpu_flags` (the CPU's feature flags)."""
  if precision == 32:
    return 'float32'
  if precision != 16:
    raise ConfigError(f'params key \'precision\': got {precision!r}; allowed: 16, 32.')
  if gpus:
    return 'float16'
  if any(flag in cpu_flags for flag in BF16_CPU_FLAGS):
    return 'bfloat16'
  raise ConfigError(
      "params key 'precision': got 16, but this machine has no GPU and its CPU has no bfloat16 "
      f"hardware (none of {', '.join(BF16_CPU_FLAGS)} in /proc/cpuinfo), where bfloat16 is emulated "
      'and slower than float32; allowed: 32.')


def loss_scaling(compute_dtype):
  """float16 gradients underflow without dynamic loss scaling; bfloat16 has float32's exponent range."""
  return compute_dtype == 'float16'


def cpu_flags(path='/proc/cpuinfo'):
  """The feature flags of the first CPU in `path` (empty where there is no such file)."""
  try:
    with open(path) as f:
      for line in f:
        if line.startswith('flags'):
          return frozenset(line.split(':', 1)[1].split())
  except OSError:
    pass
  return frozenset()


def gpus():
  import tensorflow as tf
  return tuple(device.name for device in tf.config.list_physical_devices('GPU'))


@functools.lru_cache(maxsize=None)
def compute_dtype(precision):
  """The compute dtype name for `precision` on this machine."""
  if precision == 32:  # Without asking TensorFlow for the devices.
    return 'float32'
  return choose(precision, gpus(), cpu_flags())


def keras_policy(dtype):
  """The Keras dtype policy name of a compute dtype: float32 variables in every case."""
  return dtype if dtype == 'float32' else f'mixed_{dtype}'
