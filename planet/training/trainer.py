"""The trainer: phases and step accounting (spec 7.1, 7.2), collection, checkpoints and summaries.

The global step counts examples: every batch adds batch_shape[0]. An epoch is `train_steps` examples of
updates followed by `test_steps` examples of evaluation. Train episodes are collected every
`collect_every` train-phase examples, one test episode is run per test phase, and its return is the score.
"""

import collections
import logging
import math
import os
import time

import numpy as np
import tensorflow as tf

from planet.control import simulate
from planet.scripts import build
from planet.scripts import configs
from planet.tools import dataset
from planet.tools import episodes
from planet.tools import schedule
from planet.tools import summaries as rich

log = logging.getLogger('planet')

Phase = collections.namedtuple('Phase', 'name, steps, log_every, report_every, checkpoint_every')


def phases(params):
  """The train and test phases of an epoch (spec 7.1); a phase with 0 steps is left out."""
  p = params
  result = [
      Phase('train', p['train_steps'], p['train_steps'], None, None),
      Phase('test', p['test_steps'], p['test_steps'], p['test_steps'], p['checkpoint_every']),
  ]
  return [phase for phase in result if phase.steps]


def locate(phases, global_step):
  """(phase, phase_step, summary_step) of a global step (spec 7.1).

  The summary step puts each phase's summaries at the start of its epoch on the longest phase's axis.
  """
  epoch, steps_in = divmod(global_step, sum(phase.steps for phase in phases))
  longest = max(phase.steps for phase in phases)
  for phase in phases:
    if steps_in < phase.steps:
      break
    steps_in -= phase.steps
  return phase, epoch * phase.steps + steps_in, epoch * longest + steps_in


class Progress:
  """Logs phase, step, episodes, last score, speed and time left, at most every `every` seconds."""

  def __init__(self, max_steps, step, every=60.0):
    self.max_steps = max_steps
    self.every = every
    self.score = None
    self._start_time = self._last = time.time()
    self._start_step = step

  def update(self, phase, step, episodes, now=None):
    now = time.time() if now is None else now
    if now - self._last < self.every:
      return None
    self._last = now
    rate = (step - self._start_step) / max(now - self._start_time, 1e-9)
    left = (self.max_steps - step) / rate if rate > 0 else float('inf')
    score = 'none yet' if self.score is None else f'{self.score:.1f}'
    message = (f'Progress: {phase} phase, step {step:,}/{self.max_steps:,} '
               f'({100 * step / self.max_steps:.1f}%), {episodes} train episodes, last score {score}, '
               f'{rate:.1f} steps/s, about {_duration(left)} left.')
    log.info(message)
    return message


def _duration(seconds):
  if not np.isfinite(seconds):
    return 'unknown time'
  if seconds < 120:
    return f'{seconds:.0f} s'
  if seconds < 7200:
    return f'{seconds / 60:.0f} min'
  if seconds < 3 * 86400:
    return f'{seconds / 3600:.1f} h'
  return f'{seconds / 86400:.1f} days'


class Trainer:

  def __init__(self, params, logdir, tasks):
    self.params = params
    self.logdir = logdir
    self.tasks = tasks
    self.batch_size = params['batch_shape'][0]
    self.train_dir = os.path.join(logdir, 'train_episodes')
    self.test_dir = os.path.join(logdir, 'test_episodes')
    env = tasks[0].env_ctor()
    action_size = env.action_space.shape[0]  # All tasks share the (padded) action space.
    env.close()
    seed = params['seed']
    self.data = {
        'train': iter(dataset.dataset(self.train_dir, params, seed)),
        'test': iter(dataset.dataset(self.test_dir, params, None if seed is None else seed + 1)),
    }
    spec = self.data['train'].element_spec
    state_shapes = {}
    if params['state_diagnostics']:
      state_shapes = {name: tuple(spec[name].shape[2:])  # [B, T, ...] batches
                      for name in tasks[0].state_components if name != 'reward'}
    self.model = build.model(params, action_size, state_shapes)
    self.learner = build.learner(params, self.model)
    self.optimizer = self.learner.optimizer
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name='global_step')
    self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, step=self.step)
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, logdir, max_to_keep=5, checkpoint_name='model.ckpt')
    if self.manager.latest_checkpoint:
      self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
      log.info(f'Resuming from {self.manager.latest_checkpoint} at step {int(self.step)}.')
    log.info(f'Graph contains {self.model.num_parameters()} trainable variables.')
    self.learner.compile(spec)
    self._steps = self.learner.functions()
    self.phases = phases(params)
    self.collects = {phase: configs.collect_specs(params, phase) for phase in ('train', 'test')}
    self._agents = {}
    self._simulations = {}
    self.writers = {
        phase: tf.summary.create_file_writer(os.path.join(logdir, phase)) for phase in ('train', 'test')}

  def agent(self, spec):
    key = (spec['batch_size'], spec['horizon'])
    if key not in self._agents:
      self._agents[key] = build.agent(self.params, self.model, spec['batch_size'], spec['horizon'])
    return self._agents[key]

  def simulate(self, spec, task, phase_step):
    name = f'{spec["prefix"]}_{spec["name"]}_{task.name}'
    if name not in self._simulations:
      outdir = self.train_dir if spec['prefix'] == 'train' else self.test_dir
      seed = self.params['seed']
      seed = None if seed is None else seed + 100 + len(self._simulations)
      self._simulations[name] = simulate.Simulation(
          task, self.agent(spec), outdir, seed, spec['batch_size'], self.params['isolate_envs'],
          self.params['simulate_in_graph'])
    scale = spec['action_noise'] * schedule.linear(
        phase_step, spec['action_noise_ramp'], spec['action_noise_min'])
    result = self._simulations[name].run(scale)
    log.info(f'{name}: return {result["return"]:.1f}, {result["length"]} steps in '
             f'{result["seconds"]:.1f} s.')
    return name, result

  def run(self):
    """Trains until `max_steps`; yields the score of every report step."""
    p = self.params
    batch = self.batch_size
    print_every = max(p['train_steps'] // 10, 1)
    scores, metrics_sum, metrics_count = [], collections.Counter(), 0
    last_time, last_step = time.time(), int(self.step)
    progress = Progress(p['max_steps'], int(self.step))
    try:
      while int(self.step) < p['max_steps']:
        global_step = int(self.step)
        phase, phase_step, summary_step = locate(self.phases, global_step)
        if phase_step % phase.steps < batch:
          log.info(f'Phase {phase.name} (phase step {phase_step}, global step {global_step}).')
        should_log = schedule.is_every(phase_step, batch, phase.log_every)
        report = schedule.is_every(phase_step, batch, phase.report_every)
        data = next(self.data[phase.name])
        metrics = {k: float(v) for k, v in self._steps[phase.name](data).items()}
        if not all(math.isfinite(v) for v in metrics.values()):
          raise FloatingPointError(f'non-finite training metrics at step {global_step}: {metrics}')
        summaries = {}
        if phase.name == 'train':
          for spec in self.collects['train']:
            if schedule.binary(phase_step, batch, spec['after'], spec['every'], spec['until']):
              for task in self.tasks:
                name, result = self.simulate(spec, task, phase_step)
                self._write('train', summary_step, {f'collection/{name}/return': result['return']})
        elif should_log:
          for spec in self.collects['test']:
            for task in self.tasks:
              name, result = self.simulate(spec, task, phase_step)
              summaries[f'simulation/{name}/return'] = result['return']
              scores.append(result['return'])
              images = self._simulations[name].first_episode_images()
              with self.writers['test'].as_default():
                rich.gif(f'simulation/{name}/animation', images[None] / 255.0, summary_step)
        self.step.assign_add(batch)
        if phase.name == 'train':  # The printed means are of the train phase only.
          metrics_sum.update(metrics)
          metrics_count += 1
        if phase.name == 'train' and schedule.is_every(phase_step, batch, print_every):
          means = {k: v / metrics_count for k, v in metrics_sum.items()}
          names = [k for k in self.learner.objective.scales if k in means]
          log.info(f'objectives: step/{"/".join(names)} = '
                   f'[{global_step}, {", ".join(f"{means[k]:.4g}" for k in names)}]')
          log.info(f'grad_norms: step/main = [{global_step}, {means["grad_norm"]:.4g}]')
          metrics_sum, metrics_count = collections.Counter(), 0
        if schedule.is_every(phase_step, batch, phase.checkpoint_every):
          self.manager.save(checkpoint_number=int(self.step))
        if should_log:
          with self.writers[phase.name].as_default():
            rich.log_model(self.model, data, summary_step, p['image_bits'])
          now = time.time()
          summaries.update({f'objectives/{k}': v for k, v in metrics.items()
                            if k not in ('loss', 'grad_norm')})
          summaries['loss'] = metrics['loss']
          summaries['optimizer/grad_norm'] = metrics['grad_norm']
          summaries['optimizer/clipped_gradient_norm'] = min(
              metrics['grad_norm'], p['main_gradient_clipping'])
          summaries['optimizer/learning_rate'] = p['main_learning_rate']
          summaries['dataset/episodes'] = episodes.count(self.train_dir)
          summaries['step'] = phase_step
          summaries['steps_per_second'] = (int(self.step) - last_step) / max(now - last_time, 1e-9)
          last_time, last_step = now, int(self.step)
        progress.update(phase.name, int(self.step), episodes.count(self.train_dir))
        if report:
          score = float(np.mean(scores)) if scores else float('nan')
          progress.score = score
          scores = []
          log.info(f'Score {score}.')
          summaries[f'trainer/{phase.name}/score'] = score
        if summaries:
          self._write(phase.name, summary_step, summaries)
        if report:
          yield score
      self.manager.save(checkpoint_number=int(self.step))
    except KeyboardInterrupt:
      # Ctrl-C or SIGTERM between steps: keep the progress so that rerunning the command resumes here.
      log.info(f'Interrupted; saving a checkpoint at step {int(self.step)}.')
      self.manager.save(checkpoint_number=int(self.step))
      raise
    finally:
      self.data.clear()  # Stops the generator-backed input pipelines before the interpreter exits.
      for writer in self.writers.values():
        writer.flush()
      for simulation in self._simulations.values():
        simulation.close()

  def _write(self, phase, step, scalars):
    with self.writers[phase].as_default():
      for name, value in scalars.items():
        tf.summary.scalar(name, value, step=step)
    self.writers[phase].flush()
