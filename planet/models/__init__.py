"""Latent models, selected by the `model` param.

To add a model: write one module with a `base.Base` subclass and a `from_params(params, action_size)`
function, and register its name in MODELS below. Nothing else needs to change: params validation,
the world model, training and planning all go through this table and the cell interface in base.py.
"""

import importlib

# name: module in planet.models. Kept free of TensorFlow imports so params validation stays fast.
MODELS = {
    'rssm': 'planet.models.rssm',
    'ssm': 'planet.models.ssm',
    'drnn': 'planet.models.drnn',
}


def build(params, action_size):
  return importlib.import_module(MODELS[params['model']]).from_params(params, action_size)
