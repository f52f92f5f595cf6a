"""Params become objects here, in one place (the original's configs step).

`configs.resolve` gives a complete, validated params dict; the functions below turn it into the
tasks, the world model, its learner, the agents and planners, the data sets and the schedules. Nothing
below `planet/scripts` receives the params dict: the library gets plain arguments and small config
objects built here.
"""

from planet import models
from planet.tools import precision
from planet.training import objective


def model_config(params):
  fields = {field.name for field in models.ModelConfig.__dataclass_fields__.values()}
  values = {k: params[k] for k in fields if k in params}
  values['drnn_flags'] = tuple(
      (k[len('drnn_'):], v) for k, v in sorted(params.items()) if k.startswith('drnn_'))
  values['compute_dtype'] = precision.compute_dtype(params['precision'])
  return models.ModelConfig(**values)


def loss_scales(params, heads=('image', 'reward')):
  """The objective's terms and scales, in the original's order; zero scales are left out."""
  scales = {'reward': params['reward_loss_scale']}
  for name in heads:
    if name not in ('image', 'reward'):
      scales[name] = params.get(f'{name}_loss_scale', 1.0)
  scales.update({
      'divergence': params['divergence_scale'],
      'global_divergence': params['global_div_scale'],
      'overshooting': params['overshooting_scale'],
      'image': params['image_loss_scale'],
  })
  return {k: v for k, v in scales.items() if v}


def objective_config(params, heads=('image', 'reward')):
  return objective.Config(
      scales=loss_scales(params, heads), free_nats=params['free_nats'],
      overshooting_distance=params['overshooting_distance'],
      os_stop_posterior_grad=params['os_stop_posterior_grad'],
      gradient_heads=tuple(params['gradient_heads']))


def model(params, action_size, state_shapes=None):
  """The world model (encoder, cell, decoder, heads) of the params."""
  from planet.models import world_model
  return world_model.WorldModel(model_config(params), action_size, state_shapes)


def learner(params, world_model):
  from planet.training import learner as learner_lib
  return learner_lib.Learner(
      world_model, objective_config(params, world_model.heads), params['main_learning_rate'],
      params['main_gradient_clipping'], jit_compile=params['jit_compile'])


def agent(params, world_model, batch_size=1, horizon=None):
  """The MPC agent that plans with the params' planner settings."""
  from planet.control import mpc_agent
  return mpc_agent.MPCAgent(
      world_model, batch_size, horizon or params['planner_horizon'], params['planner_amount'],
      params['planner_topk'], params['planner_iterations'], params['image_bits'],
      jit_compile=params['jit_compile'])
