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


def loss_scales(params, world_model):
  """The objective's terms and their scales, in the order they are logged; zero scales are left
  out."""
  scales = {name: params.get(objective.scale_key(name), 1.0) for name in objective.names(world_model)}
  return {k: v for k, v in scales.items() if v}


def objective_config(params, world_model):
  return objective.Config(
      scales=loss_scales(params, world_model), free_nats=params['free_nats'],
      overshooting_distance=params['overshooting_distance'],
      os_stop_posterior_grad=params['os_stop_posterior_grad'],
      gradient_heads=tuple(params['gradient_heads']))


def model(params, action_size, shapes=None):
  """The world model (encoders, cell, decoders, heads) of the params. `shapes` maps the task's state
  components to their shapes (from its episodes or its env); it is needed only for state observations
  and state diagnostics."""
  from planet.models import world_model
  from planet.scripts import tasks as tasks_lib
  components = tasks_lib.observed_components(params['observations'], params['tasks'])
  diagnostics = []
  if params['state_diagnostics']:
    diagnostics = [name for name in tasks_lib.state_components(params['tasks'])
                   if name != 'reward' and name not in components]
  shape = lambda name: tuple(shapes[name])
  return world_model.WorldModel(
      model_config(params), action_size, image='image' in params['observations'],
      state_components={name: shape(name) for name in components},
      diagnostics={name: shape(name) for name in diagnostics})


def learner(params, world_model):
  from planet.training import learner as learner_lib
  return learner_lib.Learner(
      world_model, objective_config(params, world_model), params['main_learning_rate'],
      params['main_gradient_clipping'], jit_compile=params['jit_compile'])


def agent(params, world_model, batch_size=1, horizon=None, objective=None, amount=None, topk=None,
          iterations=None):
  """The MPC agent: the params' planner with the params' settings where none are given, maximising
  the objective of that name. For a task with Discrete actions the model imagines and is fed the
  one-hot of each action's argmax."""
  from planet.control import PLANNERS
  from planet.control import mpc_agent
  from planet.control import planning
  from planet.scripts.objectives import OBJECTIVES
  discrete = any(task(name, params).discrete for name in params['tasks'])

  def given(value, key):
    return params[key] if value is None else value

  return mpc_agent.MPCAgent(
      world_model, batch_size, given(horizon, 'planner_horizon'), given(amount, 'planner_amount'),
      given(topk, 'planner_topk'), given(iterations, 'planner_iterations'), params['image_bits'],
      planner=PLANNERS[params['planner']],
      objective=OBJECTIVES[given(objective, 'collect_objective')],
      jit_compile=params['jit_compile'],
      action_transform=planning.one_hot_argmax if discrete else None)


def task(name, params):
  """The Task of one name, with the params' action repeat, camera and task settings."""
  from planet.scripts import tasks as tasks_lib
  return tasks_lib.make(name, params['action_repeat'], params['camera_id'],
                        params['task_settings'].get(name))


def tasks(params):
  """The tasks of the params; several share one agent (padded actions, image-only observations)."""
  from planet.scripts import tasks as tasks_lib
  return tasks_lib.share_agent([task(name, params) for name in params['tasks']])


def collects(params, phase):
  """The collect specs of a phase with every default filled in."""
  from planet.scripts import configs
  from planet.tools import schedule
  result = []
  for spec in params[f'{phase}_collects']:
    values = {
        'name': 'main',
        'batch_size': 1,
        'until': -1,
        'action_noise': params['train_action_noise'] if phase == 'train' else 0.0,
        **{key: params[param] for key, param in configs.COLLECT_DEFAULTS.items()},
    }
    values.update(spec)
    result.append(schedule.Collect(prefix=phase, **values))
  return result


def schedule(params):
  """The run's schedule: phases, log/report/checkpoint grids and the collections."""
  from planet.tools import schedule as schedule_lib
  phases = schedule_lib.phases(params['train_steps'], params['test_steps'], params['checkpoint_every'])
  return schedule_lib.Schedule(phases, params['batch_shape'][0], params['max_steps'], {
      'train': collects(params, 'train'), 'test': collects(params, 'test')})


def replay_size(params, phase='train'):
  """Steps of a phase's episodes its loader keeps in memory: `replay_size` for train, a tenth of it for
  test (one batch per test phase; DreamerV3 sizes its eval replay so too); None keeps every one."""
  from planet.scripts import configs
  size = params['replay_size']
  return size if size is None or phase == 'train' else size // configs.TEST_REPLAY_SHARE


def dataset(params, directory, seed=None, phase='train', keys=None):
  """The batches of a phase's episodes; `keys` what they hold (None: every key of the episodes)."""
  from planet.tools import dataset as dataset_lib
  return dataset_lib.dataset(
      directory, params['batch_shape'], params['loader'], params['loader_every'],
      params['num_chunks'], params['image_bits'], seed, replay_size(params, phase), keys)


class Simulations:
  """Makes the Simulation of a collection of a task; agents are shared by the collections that plan
  alike (same batch size, horizon, objective and planner sizes)."""

  def __init__(self, params, world_model):
    self.params = params
    self.model = world_model
    self.agents = {}

  def agent(self, collect):
    key = (collect.batch_size, collect.horizon, collect.objective, collect.planner_amount,
           collect.planner_topk, collect.planner_iterations)
    if key not in self.agents:
      self.agents[key] = agent(self.params, self.model, *key)
    return self.agents[key]

  def __call__(self, collect, task, outdir):
    return simulation(self.params, task, self.agent(collect), outdir, collect.batch_size,
                      collect.simulation(task.name))


def simulation(params, task, agent, outdir=None, batch_size=1, name=None):
  """The Simulation of `task` played by `agent`, its envs isolated and looped as the params say;
  episodes are written to `outdir` when given."""
  from planet.control import simulate
  return simulate.Simulation(task, agent, outdir, params['seed'], batch_size, params['isolate_envs'],
                             params['simulate_in_graph'], name=name)


def trainer(params, logdir, task_list=None):
  """The trainer of a run in `logdir`, whose seed episodes are on disk."""
  import os

  import tensorflow as tf

  from planet.tools import dataset as dataset_lib
  from planet.tools import seeding
  from planet.training import trainer as trainer_lib
  task_list = task_list or tasks(params)
  train_dir = os.path.join(logdir, 'train_episodes')
  spec = dataset_lib.spec(train_dir, params['batch_shape'][1])
  action_size = spec['action'].shape[-1]
  shapes = {name: tuple(value.shape[1:]) for name, value in spec.items()}
  if params['seed'] is not None:  # The initial weights are a function of the seed.
    tf.random.set_seed(seeding.derive(params['seed'], 'initial weights'))
  world_model = model(params, action_size, shapes)
  update = learner(params, world_model)
  update.compile(dataset_lib.batch_spec(train_dir, params['batch_shape'], world_model.data_keys))

  def make_dataset(phase, seed):
    return dataset(params, os.path.join(logdir, f'{phase}_episodes'), seed, phase,
                   world_model.data_keys)

  return trainer_lib.Trainer(
      logdir, update, schedule(params), task_list, make_dataset, Simulations(params, world_model),
      params['seed'], params['image_bits'])
