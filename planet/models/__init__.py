"""Latent models, selected by the `model` param, and the settings they are built from.

To add a model: write one module with a `base.Base` subclass and a `from_config(config, action_size)`
function, and register it below with one line. Params validation, the world model, training and
planning all go through this registry and the cell interface in base.py.
"""

import dataclasses

from planet.tools.registry import Registry

# name -> module (imported on first use, so that params validation does not load TensorFlow).
MODELS = Registry('model', {
    'rssm': 'planet.models.rssm',
    'ssm': 'planet.models.ssm',
    'drnn': 'planet.models.drnn',
})


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """What the world model is built from (the params of the same names; docs/params.md)."""
  model: str = 'rssm'
  network: str = 'conv_ha'
  state_network: str = 'mlp'
  state_size: int = 30
  model_size: int = 200
  model_layers: int = 1
  future_rnn: bool = True
  mean_only: bool = False
  min_stddev: float = 0.1
  activation: str = 'relu'
  num_layers: int = 3
  num_units: int = 300
  drnn_flags: tuple = ()  # ((flag, value), ...) of the drnn_* params without the prefix
  compute_dtype: str = 'float32'  # of the layers, from the precision param (planet/tools/precision.py)


def build(config, action_size):
  """The latent cell of `config.model`."""
  return MODELS[config.model].from_config(config, action_size)
