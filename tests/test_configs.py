"""Params: defaults, the debug config, parsing, and one-line errors for bad input."""

import dataclasses
import os

import pytest

from planet.errors import ConfigError
from planet.scripts import build
from planet.scripts import configs


def test_defaults_are_the_originals():
  params = configs.resolve({})
  expected = {
      'batch_shape': [50, 50], 'num_chunks': 1, 'image_bits': 5, 'loader': 'recent',
      'loader_every': 1000, 'gradient_heads': ['image', 'reward'], 'activation': 'relu',
      'num_layers': 3, 'num_units': 300, 'model_size': 200, 'state_size': 30, 'model': 'rssm',
      'mean_only': False, 'min_stddev': 0.1, 'future_rnn': True, 'model_layers': 1,
      'tasks': ['cheetah_run'], 'isolate_envs': 'thread', 'camera_id': 0,
      'divergence_scale': 1.0, 'reward_loss_scale': 10.0, 'image_loss_scale': 1.0,
      'free_nats': 3.0, 'main_learning_rate': 1e-3, 'main_gradient_clipping': 1000.0,
      'train_steps': 50000, 'test_steps': 50, 'max_steps': 50000000, 'checkpoint_every': 500,
      'num_seed_episodes': 5, 'train_action_noise': 0.3, 'planner_horizon': 12,
      'collect_every': 5000, 'planner_amount': 1000, 'planner_iterations': 10, 'planner_topk': 100,
  }
  assert {k: params[k] for k in expected} == expected


def test_debug_config_only_fills_unset_keys():
  params = configs.resolve({'max_steps': 30}, 'debug')
  assert params['max_steps'] == 30
  assert params['batch_shape'] == [5, 10] and params['action_repeat'] == 50
  assert params['model_size'] == 10 and params['state_size'] == 5
  assert params['planner_amount'] == 5 and params['planner_topk'] == 2
  assert params['train_collects'] == [{'after': 10, 'every': 10}]
  assert params['checkpoint_every'] == 100


def test_hash_is_read_as_comma():
  params = configs.parse_params('{tasks: [cheetah_run# walker_walk]# batch_shape: [50# 50]}')
  assert params == {'tasks': ['cheetah_run', 'walker_walk'], 'batch_shape': [50, 50]}


def test_collect_specs_get_the_fallbacks():
  params = configs.resolve({'train_collects': [{'every': 100}], 'collect_every': 300})
  train, = map(dataclasses.asdict, build.collects(params, 'train'))
  assert train == {'name': 'main', 'batch_size': 1, 'horizon': 12, 'objective': 'reward',
                   'after': 300, 'every': 100, 'until': -1, 'action_noise': 0.3,
                   'action_noise_ramp': 0, 'action_noise_min': 0.0, 'planner_amount': 1000,
                   'planner_topk': 100, 'planner_iterations': 10, 'prefix': 'train'}
  test, = map(dataclasses.asdict, build.collects(params, 'test'))
  assert test['action_noise'] == 0.0 and test['prefix'] == 'test'


def test_every_collect_default_is_a_spec_key_and_a_params_key():
  # One table says which params key a spec key falls back to; build.collects and evaluate read it.
  params = configs.resolve({})
  assert set(configs.COLLECT_DEFAULTS) <= set(configs.COLLECT_KEYS)
  assert set(configs.COLLECT_DEFAULTS.values()) <= set(params)
  assert set(configs.COLLECT_KEYS) - set(configs.COLLECT_DEFAULTS) == {
      'name', 'batch_size', 'until', 'action_noise'}  # fixed defaults, or by phase


def test_params_file_roundtrip(tmp_path):
  params = configs.resolve({'tasks': ['dummy']}, 'debug')
  path = str(tmp_path / 'params.yaml')
  configs.dump(params, path)
  assert configs.load(path) == params
  assert configs.resolve(configs.load(path)) == params
  assert os.listdir(tmp_path) == ['params.yaml']
  assert '!!' not in open(path).read()  # plain YAML, no Python objects


def test_state_diagnostics_heads():
  params = configs.resolve({'tasks': ['cheetah_run'], 'state_diagnostics': True,
                            'position_loss_scale': 2.0})
  assert params['position_loss_scale'] == 2.0
  with pytest.raises(ConfigError, match="no head 'touch'"):
    configs.resolve({'tasks': ['cheetah_run'], 'state_diagnostics': True, 'touch_loss_scale': 1.0})


def test_observations_default_and_state_heads():
  params = configs.resolve({})
  assert params['observations'] == ['image'] and params['gradient_heads'] == ['image', 'reward']
  params = configs.resolve({'tasks': ['walker_walk'], 'observations': ['image', 'height']})
  assert params['gradient_heads'] == ['image', 'state', 'reward']
  # Diagnostic heads are for the components the model does not see.
  params = configs.resolve({'tasks': ['walker_walk'], 'observations': ['height'],
                            'state_diagnostics': True, 'velocity_loss_scale': 0.5})
  assert params['velocity_loss_scale'] == 0.5
  with pytest.raises(ConfigError, match="no head 'height'"):
    configs.resolve({'tasks': ['walker_walk'], 'observations': ['height'], 'state_diagnostics': True,
                     'height_loss_scale': 0.5})


def test_preset_file(tmp_path):
  path = tmp_path / 'preset.yaml'
  path.write_text('config: debug\ntasks: [dummy]\nplanner_amount: 7\n')
  params = configs.resolve({'planner_topk': 3}, str(path))
  assert params['planner_amount'] == 7 and params['planner_topk'] == 3
  assert params['batch_shape'] == [5, 10]


BAD = [
    ({'task': ['cheetah_run']}, "unknown params key 'task' (did you mean 'tasks'?)"),
    ({'batch_shap': [5, 10]}, "did you mean 'batch_shape'?"),
    ({'tasks': ['cheetah_runn']}, "unknown task 'cheetah_runn' (did you mean 'cheetah_run'?)"),
    ({'batch_shape': 'abc'}, "'batch_shape': got 'abc'; allowed: [batch size, chunk length]"),
    ({'planner_amount': 'many'}, "'planner_amount': got 'many'; allowed: an integer >= 1"),
    ({'mean_only': 'yes please'}, "'mean_only': got 'yes please'; allowed: True or False"),
    ({'loader': 'fast'}, "'loader': got 'fast'; allowed: cache, recent, reload, dummy"),
    ({'free_nats': -1}, "'free_nats': got -1; allowed: a number >= 0.0"),
    ({'planner_topk': 2000}, "'planner_topk': got 2000; allowed: at most planner_amount (5)"),
    ({'batch_shape': [5, 30]}, "chunks of 30 x 1 steps are longer than the 21-frame episodes"),
    ({'train_collects': [{'evry': 5}]}, "unknown collect spec key 'evry' (did you mean 'every'?)"),
    ({'test_collects': [{'planner_topk': 10}]},
     "'test_collects.planner_topk': got 10; allowed: at most its planner_amount (5)."),
    ({'train_collects': [{'planner_amount': 1}]},
     "'train_collects.planner_topk': got 2; allowed: at most its planner_amount (1)."),
    ({'test_collects': [{'planner_iterations': -1}]},
     "'test_collects.planner_iterations': got -1; allowed: an integer >= 0."),
    ({'foo_loss_scale': 1.0}, "there is no head 'foo'"),
    ({'model': 'transformer'}, "'model': got 'transformer'; allowed: rssm, ssm, drnn"),
    ({'overshooting_scale': 1.0, 'overshooting_distance': 1},
     "'overshooting_distance': got 1; allowed: at least 2 when overshooting_scale is not 0"),
    ({'position_loss_scale': 1.0}, "there is no head 'position'"),
    ({'gradient_heads': ['image', 'velocity']}, "allowed: a list of the heads image, reward"),
    # observations: what the encoders see (state vectors through the mlp network)
    ({'tasks': ['cartpole_balance'], 'observations': ['speed']},
     "'observations': got ['speed']; allowed: image, state or state components of cartpole_balance "
     "(position, velocity)."),
    ({'tasks': ['cartpole_balance'], 'observations': ['state', 'position']},
     "state already holds every component"),
    ({'tasks': ['cartpole_balance'], 'observations': ['image', 'image']}, "a list of different names"),
    ({'tasks': ['cartpole_balance'], 'observations': []}, "'observations': got []; allowed: a non-empty"),
    ({'tasks': ['cartpole_balance'], 'observations': 'state '}, "allowed: image, state or state"),
    ({'tasks': ['dummy'], 'observations': ['state']}, "[image]: task dummy has no state vector"),
    ({'tasks': ['cartpole_balance', 'cheetah_run'], 'observations': ['state']},
     "[image] when several tasks share one agent"),
    ({'tasks': ['cartpole_balance'], 'observations': ['state'], 'gradient_heads': ['image']},
     "'gradient_heads': got ['image']; allowed: a list of the heads state, reward"),
    ({'tasks': ['cartpole_balance'], 'observations': ['reward']}, "allowed: image, state or state"),
    ({'state_network': 'transformer'}, "'state_network': got 'transformer'; allowed: conv_ha, mlp"),
]


@pytest.mark.parametrize('overrides, message', BAD)
def test_bad_params_are_one_line_errors(overrides, message):
  with pytest.raises(ConfigError) as error:
    configs.resolve(overrides, 'debug')
  assert message in str(error.value)
  assert '\n' not in str(error.value)


def test_bad_yaml_and_config_files(tmp_path):
  with pytest.raises(ConfigError, match='not valid YAML'):
    configs.parse_params('{tasks: [cheetah_run')
  with pytest.raises(ConfigError, match='must be a YAML mapping'):
    configs.parse_params('[1, 2]')
  with pytest.raises(ConfigError, match="file 'missing.yaml' does not exist"):
    configs.resolve({}, 'missing.yaml')
  with pytest.raises(ConfigError, match="neither a config name"):
    configs.resolve({}, 'fancy')
  bad = tmp_path / 'bad.yaml'
  bad.write_text('tasks: [dummy\n')
  with pytest.raises(ConfigError, match='is not valid YAML'):
    configs.resolve({}, str(bad))


CLI_BAD = [
    (['--params', '{task: [cheetah_run]}'], "did you mean 'tasks'?"),
    (['--params', '{tasks: [cheetah_run'], 'not valid YAML'),
    (['--params', '{tasks: [pong]}'], "unknown task 'pong'"),
    (['--params', '{batch_shape: 7}'], "'batch_shape': got 7"),
    (['--config', 'nope.yaml'], "'nope.yaml' does not exist"),
    (['--config', 'debug', '--params', '{batch_shape: [5, 50], tasks: [dummy]}'], 'longer than'),
]


@pytest.mark.slow
@pytest.mark.parametrize('args, message', CLI_BAD)
def test_cli_bad_input_writes_nothing(run_train, tmp_path, args, message):
  logdir = tmp_path / 'logs'
  code, stdout, stderr = run_train('--logdir', str(logdir), *args, timeout=120)
  assert code == 2
  lines = [line for line in stderr.splitlines() if line.startswith('error:')]
  assert len(lines) == 1 and message in lines[0]
  assert not logdir.exists()


@pytest.mark.slow
def test_cli_bad_flag_value(run_train, tmp_path):
  code, _, stderr = run_train('--logdir', str(tmp_path / 'x'), '--resume_runs', 'yes', timeout=120)
  assert code == 2 and "expected True or False, got 'yes'" in stderr
  assert not (tmp_path / 'x').exists()


def test_every_params_key_is_documented():
  from conftest import REPO
  import re
  with open(os.path.join(REPO, 'docs', 'params.md')) as f:
    documented = set(re.findall(r'`([a-z][a-z0-9_]*)`', f.read()))
  assert [key for key in configs.PARAMS if key not in documented] == []
  assert [key for key in configs.COLLECT_KEYS if key not in documented] == []
