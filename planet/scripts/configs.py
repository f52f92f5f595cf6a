"""Params: every key, its default and its check, in one place; the `default` and `debug` configs.

The original reads params lazily with `params.get(key, default)` scattered over its config functions, so
a misspelt key (`task` for `tasks`) is silently ignored. Here every key is declared once with its default
(the original's) and a check, and `resolve()` turns the user's overrides into a complete, validated dict
of plain YAML types. Anything else is a `ConfigError` with a one-line message.
"""

import difflib
import io
import math
import numbers
import os
import re

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from planet.errors import ConfigError
from planet.tools import atomic

# The test episodes' share of `replay_size` is 1 / TEST_REPLAY_SHARE (they give one batch per test phase).
TEST_REPLAY_SHARE = 10
ACTIVATIONS = ('relu', 'elu', 'tanh', 'swish', 'softplus', 'none')
LOADERS = ('cache', 'recent', 'reload', 'dummy')


def _fail(key, value, allowed):
  raise ConfigError(f'params key {key!r}: got {value!r}; allowed: {allowed}.')


def _number(value):
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _int(minimum=None, maximum=None):
  def check(key, value):
    allowed = 'an integer' + (f' >= {minimum}' if minimum is not None else '') + (
        f' and <= {maximum}' if maximum is not None else '')
    if not _number(value) or not math.isfinite(value) or value != int(value):
      _fail(key, value, allowed)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
      _fail(key, value, allowed)
    return int(value)
  return check


def _float(minimum=None, nullable=False, positive=False, maximum=None):
  def check(key, value):
    if value is None and nullable:
      return None
    bound = (f' > {minimum}' if positive else f' >= {minimum}') if minimum is not None else ''
    bound += f' and <= {maximum}' if maximum is not None else ''
    allowed = f'a number{bound}' + (' or null' if nullable else '')
    if not _number(value) or not math.isfinite(value):
      _fail(key, value, allowed.replace('a number', 'a finite number', 1))
    if minimum is not None and (value <= minimum if positive else value < minimum):
      _fail(key, value, allowed)
    if maximum is not None and value > maximum:
      _fail(key, value, allowed)
    return float(value)
  return check


def _bool(key, value):
  if not isinstance(value, bool):
    _fail(key, value, 'True or False')
  return value


def _choice(*options):
  def check(key, value):
    if value not in options:
      _fail(key, value, ', '.join(map(str, options)))
    return value
  return check


def _registered(registry):
  """A name in a registry (models, networks, planners, objectives), looked up at check time, so an
  entry registered later is allowed."""
  def check(key, value):
    names = registry().names()
    if not isinstance(value, str) or value not in names:
      _fail(key, value, ', '.join(names))
    return value
  return check


def _models():
  from planet.models import MODELS
  return MODELS


def _networks():
  from planet.networks import NETWORKS
  return NETWORKS


def _planners():
  from planet.control import PLANNERS
  return PLANNERS


def _objectives():
  from planet.scripts.objectives import OBJECTIVES
  return OBJECTIVES


def _optional(check):
  def wrapped(key, value):
    return None if value is None else check(key, value)
  return wrapped


def _batch_shape(key, value):
  if (not isinstance(value, (list, tuple)) or len(value) != 2 or
      any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in value)):
    _fail(key, value, '[batch size, chunk length], two positive integers')
  return [int(value[0]), int(value[1])]


def _str_list(key, value):
  if isinstance(value, str):
    value = [value]
  if not isinstance(value, (list, tuple)) or not value or not all(isinstance(x, str) for x in value):
    _fail(key, value, 'a non-empty list of names')
  return list(value)


def _name(key, value):
  if not isinstance(value, str) or not re.fullmatch(r'[A-Za-z0-9]+', value):
    _fail(key, value, 'a name of letters and digits')
  return value


# The keys of a collect spec and their checks; missing ones take the defaults of the params.
COLLECT_CHECKS = {
    'name': _name,
    'batch_size': _int(1),
    'horizon': _int(1),
    'objective': _registered(_objectives),
    'after': _int(0),
    'every': _int(1),
    'until': _int(-1),
    'action_noise': _float(0.0),
    'action_noise_ramp': _int(),
    'action_noise_min': _float(0.0, maximum=1.0),
    # Ours (docs/differences.md): a collection may plan with its own CEM sizes, e.g. train episodes
    # with a small planner for speed and test episodes with the paper's.
    'planner_amount': _int(1),
    'planner_topk': _int(1),
    'planner_iterations': _int(0),
}
COLLECT_KEYS = tuple(COLLECT_CHECKS)
# The params key whose value a collect spec key takes where the spec leaves it out (build.collects);
# an evaluation's --params of one of them replaces the spec's value too (evaluate). `action_noise`
# is `train_action_noise` in train collections and 0 in test ones; `name`, `batch_size` and `until`
# have fixed defaults.
COLLECT_DEFAULTS = {
    'horizon': 'planner_horizon',
    'objective': 'collect_objective',
    'after': 'collect_every',
    'every': 'collect_every',
    'action_noise_ramp': 'action_noise_ramp',
    'action_noise_min': 'action_noise_min',
    'planner_amount': 'planner_amount',
    'planner_topk': 'planner_topk',
    'planner_iterations': 'planner_iterations',
}


def _collects(key, value):
  if not isinstance(value, (list, tuple)) or not all(isinstance(x, dict) for x in value):
    _fail(key, value, 'a list of collect specs (mappings)')
  result = []
  for spec in value:
    checked = {}
    for name, item in spec.items():
      if name not in COLLECT_CHECKS:
        raise ConfigError(
            f'params key {key!r}: unknown collect spec key {name!r}{_suggest(name, COLLECT_KEYS)}; '
            f'allowed: {", ".join(COLLECT_KEYS)}.')
      checked[name] = COLLECT_CHECKS[name](f'{key}.{name}', item)
    result.append(checked)
  return result


# The keys of a task's entry of `task_settings` and their checks (planet/scripts/tasks.py: make).
TASK_SETTING_CHECKS = {
    'action_repeat': _int(1),
    'episode_steps': _int(1),
    'image': _choice('auto', 'observation', 'render'),
}


def _task_settings(key, value):
  if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
    _fail(key, value, 'a mapping of task names to settings')
  result = {}
  for name, settings in value.items():
    if not isinstance(settings, dict):
      _fail(f'{key}.{name}', settings, f'a mapping of {", ".join(TASK_SETTING_CHECKS)}')
    result[name] = {}
    for setting, item in settings.items():
      if setting not in TASK_SETTING_CHECKS:
        raise ConfigError(
            f'params key {key!r}: unknown setting {setting!r} of {name!r}'
            f'{_suggest(setting, TASK_SETTING_CHECKS)}; allowed: {", ".join(TASK_SETTING_CHECKS)}.')
      result[name][setting] = TASK_SETTING_CHECKS[setting](f'{key}.{name}.{setting}', item)
  return result


def _precision(key, value):
  from planet.tools import precision  # The hardware check: a one-line ConfigError where 16 is refused.
  value = int(_choice(16, 32)(key, value))
  precision.compute_dtype(value)
  return value


# key: (default, check). Defaults are the original's. `checkpoint_every: None` means 10 * test_steps
# and `action_repeat: None` the task's own, resolved in `resolve()`.
PARAMS = {
    # Data and processing
    'batch_shape': ([50, 50], _batch_shape),
    'num_chunks': (1, _optional(_int(1))),
    'image_bits': (5, _int(1, 8)),
    'loader': ('recent', _choice(*LOADERS)),
    'loader_every': (1000, _int(1)),
    # Ours (docs/differences.md): the `recent` and `cache` loaders keep the newest `replay_size` steps
    # (frames) of train episodes in memory, and a tenth of it of test episodes; null keeps every one.
    'replay_size': (600000, _optional(_int(1))),
    # Model components
    'gradient_heads': (['image', 'reward'], _str_list),
    'network': ('conv_ha', _registered(_networks)),
    # Ours: what the encoders see and the decoders reconstruct; checked against the task in resolve().
    'observations': (['image'], _str_list),
    'state_network': ('mlp', _registered(_networks)),
    'activation': ('relu', _choice(*ACTIVATIONS)),
    'num_layers': (3, _int(0)),
    'num_units': (300, _int(1)),
    'model_size': (200, _int(1)),
    'state_size': (30, _int(1)),
    'model': ('rssm', _registered(_models)),
    'mean_only': (False, _bool),
    'min_stddev': (0.1, _float(0.0)),
    'future_rnn': (True, _bool),
    'model_layers': (1, _int(1)),
    'drnn_encoder_to_decoder': (False, _bool),
    'drnn_sample_to_sample': (True, _bool),
    'drnn_sample_to_encoder': (True, _bool),
    'drnn_decoder_to_encoder': (False, _bool),
    'drnn_decoder_to_sample': (True, _bool),
    'drnn_action_to_decoder': (False, _bool),
    # Tasks
    'tasks': (['cheetah_run'], _str_list),
    'isolate_envs': ('thread', _choice('none', 'thread', 'process')),
    'state_diagnostics': (False, _bool),
    'action_repeat': (None, _optional(_int(1, 1000))),
    # Ours: per-task action repeat, episode length in environment steps and image source (docs/params.md).
    'task_settings': ({}, _task_settings),
    'camera_id': (0, _int(0)),
    # Losses and optimiser
    'divergence_scale': (1.0, _float(0.0)),
    'global_div_scale': (0.0, _float(0.0)),
    'overshooting_scale': (0.0, _float(0.0)),
    'image_loss_scale': (1.0, _float(0.0)),
    'reward_loss_scale': (10.0, _float(0.0)),
    'state_loss_scale': (1.0, _float(0.0)),
    'free_nats': (3.0, _float(0.0, nullable=True)),
    'overshooting_distance': (0, _int(0)),
    'os_stop_posterior_grad': (True, _bool),
    'main_learning_rate': (1e-3, _float(0.0, positive=True)),
    'main_gradient_clipping': (1000.0, _float(0.0, positive=True)),
    # Training schedule and collection
    'train_steps': (50000, _int(0)),
    'test_steps': (50, _int(0)),
    'max_steps': (50000000, _int(0)),
    'checkpoint_every': (None, _optional(_int(1))),
    'num_seed_episodes': (5, _int(1)),
    'train_collects': ([{}], _collects),
    'test_collects': ([{}], _collects),
    'train_action_noise': (0.3, _float(0.0)),
    'planner_horizon': (12, _int(1)),
    'collect_objective': ('reward', _registered(_objectives)),
    'collect_every': (5000, _int(1)),
    'action_noise_ramp': (0, _int()),
    'action_noise_min': (0.0, _float(0.0, maximum=1.0)),
    'planner': ('cem', _registered(_planners)),
    'planner_amount': (1000, _int(1)),
    'planner_iterations': (10, _int(0)),
    'planner_topk': (100, _int(1)),
    # Ours (docs/differences.md): one seed for numpy, TensorFlow and the environments; null draws one
    # at random and stores it in the run's params.yaml.
    'seed': (None, _optional(_int(0, 2 ** 63 - 1))),
    # Ours: run each collected episode as one compiled loop (control/in_graph.py) instead of a Python
    # loop over the compiled policy. scripts/benchmark.py measures both; the default is the faster.
    'simulate_in_graph': (True, _bool),
    # Ours: the layers' compute dtype (planet/tools/precision.py): 32 float32 (faithful); 16 bfloat16 on
    # a CPU with bfloat16 hardware, float16 with loss scaling on a GPU, refused elsewhere.
    'precision': (32, _precision),
    # Ours: XLA (tf.function jit_compile) for the train step and the planner; scripts/benchmark.py
    # measures it. Off: it was slower on the CPUs we measured; GPUs often gain.
    'jit_compile': (False, _bool),
}

# Keys of the original that did nothing there and are not accepted here (docs/differences.md).
REMOVED = {
    'loader_window': 'it was never read by the original either',
    'bound_action': 'the original built it but never used it',
}

# The debug config: inserted only for keys the user did not set.
DEBUG = {
    'action_repeat': 50,
    'num_seed_episodes': 1,
    'train_steps': 10,
    'test_steps': 10,
    'max_steps': 500,
    'train_collects': [{'after': 10, 'every': 10}],
    'test_collects': [{'after': 10, 'every': 10}],
    'model_size': 10,
    'state_size': 5,
    'num_layers': 1,
    'num_units': 10,
    'batch_shape': [5, 10],
    'loader_every': 5,
    'planner_amount': 5,
    'planner_topk': 2,
    'planner_iterations': 2,
}

CONFIGS = {'default': {}, 'debug': DEBUG}

def _suggest(name, options):
  close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
  return f' (did you mean {close[0]!r}?)' if close else ''


def _yaml_mapping(text, source, example):
  """Safe-loads a YAML mapping; anything else is a one-line ConfigError naming `source`."""
  try:
    value = YAML(typ='safe', pure=True).load(text)
  except YAMLError as e:
    problem = getattr(e, 'problem', None) or str(e).splitlines()[0]
    raise ConfigError(f'{source} is not valid YAML ({problem}).') from None
  if value is None:
    return {}
  if not isinstance(value, dict):
    raise ConfigError(f'{source} must be a YAML mapping of params like {example}.')
  return value


def parse_params(text):
  """Parses the --params string: a YAML mapping with every `#` read as `,` (for launchers that split
  on commas: `{tasks: [cheetah_run# walker_walk]}`)."""
  text = (text or '{}').replace('#', ',')
  return _yaml_mapping(text, f'--params {text!r}', '"{tasks: [cheetah_run]}"')


def load_config(name):
  """The params of a named config (`default`, `debug`) or of a YAML file of params."""
  if name in CONFIGS:
    return dict(CONFIGS[name])
  if not (name.endswith('.yaml') or name.endswith('.yml') or os.sep in name):
    raise ConfigError(
        f'--config {name!r} is neither a config name ({", ".join(CONFIGS)}) nor a .yaml file of params.')
  path = os.path.expanduser(name)
  if os.path.isdir(path):
    raise ConfigError(f'--config {name!r} is a folder; give a .yaml file of params, for example '
                      'configs/planet.yaml.')
  if not os.path.isfile(path):
    raise ConfigError(f'--config file {name!r} does not exist.')
  with open(path) as f:
    value = _yaml_mapping(f.read(), f'--config file {name!r}', '"tasks: [cheetah_run]"')
  base = value.pop('config', None)
  if base is not None:  # A preset may build on a named config: `config: debug`.
    if base not in CONFIGS:
      raise ConfigError(f'--config file {name!r}: config {base!r} unknown; allowed: {", ".join(CONFIGS)}.')
    merged = dict(CONFIGS[base])
    merged.update(value)
    value = merged
  return value


def _tasks(params):
  """{name: Task} of the params' tasks, each checked (a gymnasium env is built once per process for it,
  a dm_control task never); anything a run could not use is a one-line ConfigError."""
  from planet.scripts import tasks as tasks_lib  # Avoid importing env code for plain parsing.
  names, settings = params['tasks'], params['task_settings']
  for name in settings:
    if name not in names:
      _fail('task_settings', name, f'settings of the tasks in tasks ({", ".join(names)})')
  tasks = {name: tasks_lib.make(name, params['action_repeat'], params['camera_id'], settings.get(name))
           for name in names}
  if len({task.name for task in tasks.values()}) < len(tasks):
    _fail('tasks', names, 'tasks whose names differ in more than punctuation (episode files use '
          'their names with punctuation replaced by _)')
  observations = params.get('observations', ['image'])
  for name, task in tasks.items():
    if task.max_length < 1:
      _fail('task_settings', {name: settings.get(name)},
            f'an episode of at least one decision (episode_steps >= action_repeat '
            f'{task.settings.action_repeat})')
    if 'image' in observations and not task.images:
      raise ConfigError(
          f'task {name!r}: an env that can render no image (no image observation, no rgb_array render '
          f'mode) when the model needs one (observations: {observations}); allowed: observations '
          'without image.')
  discrete = [name for name, task in tasks.items() if task.discrete]
  if len(names) > 1 and discrete:
    _fail('tasks', names, f'several tasks share one agent only with Box actions ({discrete[0]} has '
          'Discrete actions); train it alone')
  return tasks


def resolve(overrides, config='default'):
  """Complete, validated params from a config (name, path or dict) and user overrides.

  Precedence: overrides > config > defaults. Returns a dict of plain YAML types. Each step checks one
  group of keys against each other; the first problem is a one-line ConfigError.
  """
  base = load_config(config) if isinstance(config, str) else dict(config)
  given = dict(base)
  given.update(overrides)
  params = _known_keys(given)
  tasks = _tasks(params)
  _heads(params, given)
  _planner_and_overshooting(params)
  _chunks_and_replay(params, tasks)
  _schedule(params)
  return params


def _known_keys(given):
  """Every PARAMS key, each given one checked alone (loss scales are checked with the heads)."""
  for key in given:
    if key in REMOVED:
      raise ConfigError(f'params key {key!r} is not supported: {REMOVED[key]}; remove it '
                        '(docs/differences.md).')
    if key not in PARAMS and not key.endswith('_loss_scale'):
      raise ConfigError(
          f'unknown params key {key!r}{_suggest(key, PARAMS)}; see docs/params.md for the allowed keys.')
  params = {}
  for key, (default, check) in PARAMS.items():
    params[key] = check(key, given[key]) if key in given else _copy(default)
  if len(set(params['tasks'])) < len(params['tasks']):
    _fail('tasks', params['tasks'], 'a list of different task names')
  return params


def _heads(params, given):
  """The heads the observations, the reward and the diagnostics make; `gradient_heads` (default: the
  observations' decoders and the reward, the paper's) and every `<head>_loss_scale` name one of them."""
  from planet.scripts import tasks as tasks_lib  # Avoid importing env code for plain parsing.
  heads = _observation_heads(params, tasks_lib) + ['reward']
  if 'gradient_heads' not in given:
    params['gradient_heads'] = list(heads)
  if params['state_diagnostics']:
    observed = tasks_lib.observed_components(params['observations'], params['tasks'])
    heads += [name for name in tasks_lib.state_components(params['tasks'])
              if name != 'reward' and name not in observed]
  for key in sorted(k for k in given if k.endswith('_loss_scale') and k not in PARAMS):
    head = key[:-len('_loss_scale')]
    if head not in heads:
      raise ConfigError(f'params key {key!r}: there is no head {head!r}; heads with a loss scale: '
                        f'{", ".join(heads)} (state components need state_diagnostics: True).')
    params[key] = _float(0.0)(key, given[key])
  for head in params['gradient_heads']:
    if head not in heads:
      _fail('gradient_heads', params['gradient_heads'], f'a list of the heads {", ".join(heads)}')


def _planner_and_overshooting(params):
  if params['overshooting_scale'] and params['overshooting_distance'] < 2:
    _fail('overshooting_distance', params['overshooting_distance'],
          'at least 2 when overshooting_scale is not 0 (it covers predictions 2..distance ahead)')
  if params['planner_topk'] > params['planner_amount']:
    _fail('planner_topk', params['planner_topk'],
          f'at most planner_amount ({params["planner_amount"]})')
  for phase in ('train', 'test'):
    for spec in params[f'{phase}_collects']:
      amount = spec.get('planner_amount', params['planner_amount'])
      topk = spec.get('planner_topk', params['planner_topk'])
      if topk > amount:
        _fail(f'{phase}_collects.planner_topk', topk, f'at most its planner_amount ({amount})')


def _chunks_and_replay(params, tasks):
  """The chunks fit in every task's episodes, and the replay memory holds ten of them."""
  length = params['batch_shape'][1]
  needed = length * (params['num_chunks'] or 1)
  for name, task in tasks.items():
    episode = task.max_length + 1
    if episode < needed:
      raise ConfigError(
          f'params key \'batch_shape\': chunks of {length} x {params["num_chunks"]} steps are longer '
          f'than the {episode}-frame episodes of {name} ({task.settings.episode_steps} environment '
          f'steps at action_repeat {task.settings.action_repeat}); allowed: at most {episode}.')
    if params['replay_size'] is not None and params['replay_size'] // TEST_REPLAY_SHARE < episode:
      _fail('replay_size', params['replay_size'],
            f'null or at least {TEST_REPLAY_SHARE * episode} steps ({TEST_REPLAY_SHARE} {episode}-frame '
            f'episodes of {name}: the test episodes keep 1/{TEST_REPLAY_SHARE} of it)')


def _schedule(params):
  """Phases of whole batches, at least one of them; checkpoints every 10 test phases unless given;
  collect specs with distinct names."""
  batch = params['batch_shape'][0]
  if params['checkpoint_every'] is None:
    params['checkpoint_every'] = 10 * params['test_steps']
  if params['train_steps'] and params['train_steps'] % batch:
    _fail('train_steps', params['train_steps'], f'a multiple of the batch size {batch}')
  if params['test_steps'] and params['test_steps'] % batch:
    _fail('test_steps', params['test_steps'], f'a multiple of the batch size {batch}')
  if not params['train_steps'] and not params['test_steps']:
    _fail('train_steps', 0, 'a positive number when test_steps is 0')
  for key in ('train_collects', 'test_collects'):
    names = [spec.get('name', 'main') for spec in params[key]]
    if len(set(names)) != len(names):
      _fail(key, params[key], 'collect specs with distinct names')


def _observation_heads(params, tasks_lib):
  """Checks `observations` against the tasks; returns the heads that reconstruct them (`image`,
  `state`)."""
  observations, names = params['observations'], params['tasks']
  if len(set(observations)) < len(observations):
    _fail('observations', observations, 'a list of different names')
  vector = [name for name in observations if name != 'image']
  if vector and len(names) > 1:
    _fail('observations', observations, '[image] when several tasks share one agent (their state '
          'vectors differ)')
  components = [name for name in tasks_lib.state_components(names) if name != 'reward']
  allowed = f'image, state or state components of {names[0]} ({", ".join(components) or "none"})'
  if 'state' in vector and len(vector) > 1:
    _fail('observations', observations, f'{allowed}; state already holds every component')
  if vector and not components:
    _fail('observations', observations, f'[image]: task {names[0]} has no state vector')
  for name in vector:
    if name != 'state' and name not in components:
      _fail('observations', observations, allowed)
  return ['image'] * ('image' in observations) + ['state'] * bool(vector)


def _copy(value):
  if isinstance(value, list):
    return [_copy(x) for x in value]
  if isinstance(value, dict):
    return {k: _copy(v) for k, v in value.items()}
  return value


def dump(params, path):
  """Writes params as plain, safe YAML, atomically."""
  yaml = YAML(typ='safe', pure=True)
  yaml.default_flow_style = False
  text = io.StringIO()
  yaml.dump(params, text)
  atomic.write(path, text.getvalue())


def load(path):
  with open(path) as f:
    return YAML(typ='safe', pure=True).load(f)


def load_run(path):
  """The resolved params of a run's params.yaml; a file that is not valid params is a one-line
  ConfigError naming it (keys added since the run started get their defaults)."""
  try:
    with open(path) as f:
      stored = _yaml_mapping(f.read(), path, '"tasks: [cheetah_run]"')
    if not stored:
      raise ConfigError(f'{path} is empty.')
    return resolve(stored)
  except ConfigError as e:
    message = str(e)
    if not message.startswith(path):
      message = f'{path}: {message}'
    raise ConfigError(f'{message} Fix the file or remove the run directory.') from None
  except (OSError, UnicodeDecodeError) as e:
    raise ConfigError(f'cannot read {path}: {e}.') from None
