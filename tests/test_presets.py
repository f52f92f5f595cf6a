"""The paper presets (configs/*.yaml, original README table) and multi-task padding."""

import glob
import os

import numpy as np
import pytest

from planet.control import wrappers
from planet.scripts import build
from planet.scripts import configs
from planet.tools import episodes

from conftest import REPO, CountingEnv

PRESETS = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(REPO, 'configs', '*.yaml')))
SIX = ['cartpole_swingup', 'reacher_easy', 'cheetah_run', 'finger_spin', 'cup_catch', 'walker_walk']


def preset(name):
  return configs.load_config(os.path.join(REPO, 'configs', f'{name}.yaml'))


def test_presets_match_the_original_readme():
  assert {'planet', 'random_collection', 'deterministic', 'stochastic',
          'one_agent_all_tasks'} <= set(PRESETS)
  assert preset('planet') == {}
  assert preset('random_collection') == {'planner_iterations': 0, 'train_action_noise': 1.0}
  assert preset('deterministic') == {'mean_only': True, 'divergence_scale': 0.0}
  assert preset('stochastic') == {'model': 'ssm'}
  assert preset('one_agent_all_tasks') == {'tasks': SIX, 'collect_every': 30000}


def test_preset_equals_the_original_raw_params():
  raw = configs.parse_params('{planner_iterations: 0# train_action_noise: 1.0# tasks: [cheetah_run]}')
  from_preset = configs.resolve({'tasks': ['cheetah_run']},
                                os.path.join(REPO, 'configs', 'random_collection.yaml'))
  assert configs.resolve(raw) == from_preset


SIZES = ('batch_shape', 'train_steps', 'test_steps', 'checkpoint_every', 'loader_every',
         'planner_amount', 'planner_topk', 'collect_every', 'max_steps')


# The CPU presets differ from the paper's only in sizes, their task and CEM iterations (and cpu_state in
# what the model sees and the weight of its reconstruction): at debug sizes they are the planet run on a dm_control task, which the state
# runs of tests/test_observations.py and the dm_control debug runs cover; their own sizes resolve below.
CPU_PRESETS = {'cpu_quick': {'tasks': ['cartpole_swingup'], 'planner_iterations': 5},
               'cpu_state': {'tasks': ['cartpole_swingup'], 'observations': ['state'],
                             'planner_iterations': 5, 'state_loss_scale': 100.0}}


def test_cpu_presets_are_the_paper_model_at_cpu_sizes():
  for name, choices in CPU_PRESETS.items():
    assert {k: v for k, v in preset(name).items() if k not in SIZES} == choices
    params = configs.resolve({}, os.path.join(REPO, 'configs', f'{name}.yaml'))
    assert params['model'] == 'rssm' and params['free_nats'] == 3.0 and params['batch_shape'][1] == 50
    # The paper's ratio: 100 updates per collected episode.
    assert params['collect_every'] // params['batch_shape'][0] == 100


# Each preset's debug run also switches on features of the model, the loss or the collection (one run
# covers both; a debug run costs about 20 s here): {preset: (overrides, objectives it must write)}.
FEATURES = {
    'planet': ({'overshooting_scale': 1.0, 'overshooting_distance': 4, 'free_nats': None},
               {'objectives/overshooting', 'objectives/divergence'}),
    'deterministic': ({'tasks': ['cartpole_swingup'], 'state_diagnostics': True,
                       'velocity_loss_scale': 2.0},
                      {'objectives/position', 'objectives/velocity', 'objectives/reward'}),
    'random_collection': ({'global_div_scale': 0.1, 'model': 'drnn'},
                          {'objectives/global_divergence'}),
    'stochastic': ({'train_collects': [{'after': 10, 'every': 10, 'batch_size': 2}],
                    'action_noise_ramp': 100, 'simulate_in_graph': False},
                   {'objectives/divergence'}),
    'one_agent_all_tasks': ({}, {'objectives/image', 'objectives/reward'}),
}


def test_every_preset_has_its_debug_run():
  assert set(FEATURES) == set(PRESETS) - set(CPU_PRESETS)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(FEATURES))
def test_debug_sized_run_of_every_preset(debug_run, name):
  # The preset's own choices on top of the debug sizes; its sizes and schedule give way to debug's.
  from tensorboard.backend.event_processing import event_accumulator
  overrides = {k: v for k, v in preset(name).items() if k not in SIZES}
  overrides.setdefault('tasks', ['dummy'])
  if name == 'one_agent_all_tasks':  # two of its seven tasks, with 6 and 2 action dimensions
    overrides['tasks'] = ['cheetah_run', 'cup_catch']
  features, objectives = FEATURES[name]
  overrides.update(features, max_steps=30, seed=0)
  run = debug_run(**overrides)
  params, logdir, scores = run.params, run.logdir, run.scores
  for key, value in preset(name).items():
    if key not in SIZES and key != 'tasks':
      assert params[key] == value  # the preset's choices, under the features
  assert len(scores) == 1 and np.isfinite(scores[0])
  count = len(params['tasks'])
  batch = params['train_collects'][0].get('batch_size', 1)
  assert episodes.count(os.path.join(logdir, 'train_episodes')) == (1 + batch) * count
  assert episodes.count(os.path.join(logdir, 'test_episodes')) == 2 * count
  assert configs.load(os.path.join(logdir, 'params.yaml'))['tasks'] == params['tasks']
  accumulator = event_accumulator.EventAccumulator(os.path.join(logdir, 'train'))
  assert objectives <= set(accumulator.Reload().Tags()['tensors'])
  if name == 'random_collection':
    # The test episode uses the zero-iteration planner without noise: all-zero actions.
    test = [episodes.load(p) for p in episodes.filenames(os.path.join(logdir, 'test_episodes'))]
    assert any(np.all(e['action'] == 0) for e in test)


@pytest.mark.slow
def test_multi_task_envs_are_padded_and_image_only():
  params = configs.resolve({'tasks': ['cartpole_swingup', 'cheetah_run']})
  task_list = build.tasks(params)
  assert [t.state_components for t in task_list] == [['reward'], ['reward']]
  for task, own in zip(task_list, (1, 6)):
    env = task.env_ctor(seed=0)
    assert env.action_space.shape == (6,)
    obs, _ = env.reset()
    assert list(obs) == ['image']
    env.step(np.full(6, 0.5, np.float32))  # dm_control raises on an action of the wrong size
    assert env.env.env.action_space.shape == (own,)
    env.close()


def test_pad_actions_sends_only_the_envs_own_dimensions():
  received = []

  class Recording(CountingEnv):
    def step(self, action):
      received.append(np.array(action))
      return super().step(action)

  from gymnasium import spaces
  other = spaces.Box(np.array([-2, -3, -1], np.float32), np.array([2, 3, 1], np.float32))
  env = wrappers.PadActions(Recording(), [spaces.Box(-1, 1, (1,), np.float32), other])
  np.testing.assert_array_equal(env.action_space.low, [-2, -3, -1])
  np.testing.assert_array_equal(env.action_space.high, [2, 3, 1])
  env.reset()
  env.step(np.array([0.25, 0.5, 0.75], np.float32))
  assert len(received) == 1 and received[0].tolist() == [0.25]


def test_multi_task_seed_counts_are_shared(tmp_path, second_dummy):
  from planet.control import simulate
  params = configs.resolve({'tasks': ['dummy', second_dummy]}, 'debug')
  task_list = build.tasks(params)
  train_dir, test_dir = str(tmp_path / 'train'), str(tmp_path / 'test')
  simulate.collect_initial_episodes(task_list, train_dir, test_dir, 2, 0)
  assert episodes.count(train_dir) == 4 and episodes.count(test_dir) == 4
  simulate.collect_initial_episodes(task_list, train_dir, test_dir, 2, 0)  # a resume collects none
  assert episodes.count(train_dir) == 4


