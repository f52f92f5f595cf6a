"""The trainer: updates, collections, summaries, checkpoints and scores, as its schedule says.

The global step counts examples: every batch adds the batch size. `Schedule.at(step)` says what happens
at a step (tools/schedule.py); the loop below does it. A resumed run restarts from its last checkpoint
and replays the steps after it: the collections it finds on disk are not run again (their returns are
read back), summaries already in the event files or metrics.jsonl are not written again, and randomness
is seeded from the step it resumed at, so the replay draws fresh batches and episodes.
"""

import collections
import logging
import math
import os
import time

import numpy as np
import tensorflow as tf

from planet.tools import atomic
from planet.tools import cli
from planet.tools import episodes
from planet.tools import events
from planet.tools import metrics
from planet.tools import schedule as schedule_lib
from planet.tools import seeding
from planet.tools import summaries as rich
from planet.training import checkpoints as checkpoints_lib
from planet.training import writers

log = logging.getLogger('planet')


class Trainer:

  def __init__(self, logdir, learner, schedule, tasks, make_dataset, make_simulation, seed=None,
               image_bits=5):
    """`make_dataset(phase, seed)` gives the batches of a phase; `make_simulation(collect, task,
    outdir)` the Simulation of a collection of a task. The rest are plain settings."""
    self.logdir = logdir
    self.learner = learner
    self.model = learner.model
    self.schedule = schedule
    self.tasks = tasks
    self.seed = seed
    self.image_bits = image_bits
    self.batch = schedule.batch
    self.dirs = {phase: os.path.join(logdir, f'{phase}_episodes') for phase in ('train', 'test')}
    for directory in self.dirs.values():
      atomic.remove_temporary(directory)
    self.index = {phase: episodes.Index(directory) for phase, directory in self.dirs.items()}
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name='global_step')
    self.checkpoints = checkpoints_lib.Checkpoints(tf.train.Checkpoint(
        model=self.model, optimizer=learner.optimizer, step=self.step), logdir)
    start = self.checkpoints.restore()
    if start is not None:
      log.info(f'Resuming from {self.checkpoints.restored} at step {int(self.step)}.')
    log.info(f'Graph contains {self.model.num_parameters()} trainable variables.')
    start = int(self.step)
    # Fresh randomness at every (re)start, a function of the seed and the step only.
    if seed is not None:
      np.random.seed(seeding.derive(seed, 'numpy', start))
      tf.random.set_seed(seeding.derive(seed, 'tensorflow', start))
    self.data = {phase.name: iter(make_dataset(phase.name, seeding.derive(seed, phase.name, start)))
                 for phase in schedule.phases}
    self._make_simulation = make_simulation
    self._simulations = {}
    self.writers = {phase: writers.Writer(os.path.join(logdir, phase)) for phase in ('train', 'test')}
    # A run begun without metrics.jsonl gets the scalars of its event files into it first.
    self.metrics = metrics.Writer(os.path.join(logdir, metrics.FILENAME), lambda: {
        phase: events.read(writer.directory).scalars for phase, writer in self.writers.items()})
    self.progress = schedule_lib.Progress(schedule.max_steps, start)
    self.progress.score = self.metrics.newest.get('test', {}).get('trainer/test/score')  # resumed
    self._metrics = collections.defaultdict(list)  # printed means, train phase only
    self._scores = []
    self._last_log = (time.time(), start)

  def run(self):
    """Trains until `max_steps`; yields the score of every report step."""
    try:
      while not self.schedule.done(int(self.step)):
        cli.raise_if_interrupted()  # A Ctrl-C (or a sweep's cancel) whose exception TF or Ray lost.
        now = self.schedule.at(int(self.step))
        if now.starts_phase:
          log.info(f'Phase {now.phase.name} (phase step {now.phase_step}, global step {now.step}).')
        data = next(self.data[now.phase.name])
        metrics = self._update(now, data)
        summaries, videos = self._collect(now)
        if now.should_print:
          self._print_metrics(now)
        if now.should_log:
          summaries.update(self._log_scalars(now, metrics))
        if now.should_report:
          score = float(np.mean(self._scores)) if self._scores else float('nan')
          self._scores, self.progress.score = [], score
          log.info(f'Score {score}.')
          summaries[f'trainer/{now.phase.name}/score'] = score
        # Summaries before the step counts as done: a checkpoint (also the one saved when interrupted)
        # claims every step before it, so what those steps wrote must be there.
        self._write(now, summaries, videos, data if now.should_log else None)
        self.step.assign_add(self.batch)
        if now.should_checkpoint:
          self.checkpoints.save(int(self.step))
        self.progress.update(now.phase.name, int(self.step), len(self.index['train']))
        if now.should_report:
          yield score
      self.checkpoints.save(int(self.step))
    except KeyboardInterrupt:
      # Ctrl-C or SIGTERM between steps: keep the progress so that rerunning the command resumes here.
      log.info(f'Interrupted; saving a checkpoint at step {int(self.step)}.')
      self.checkpoints.save(int(self.step))
      raise
    finally:
      self.close()

  def _update(self, now, data):
    step = self.learner.train if now.phase.name == 'train' else self.learner.test
    metrics = {k: float(v) for k, v in step(data).items()}
    if not all(math.isfinite(v) for v in metrics.values()):
      raise FloatingPointError(f'non-finite training metrics at step {now.step}: {metrics}')
    if now.phase.name == 'train':
      for key, value in metrics.items():
        self._metrics[key].append(value)
    return metrics

  def _collect(self, now):
    """Runs the collections due now; one already on disk (written before a resume) is read back."""
    summaries, videos = {}, {}
    for collect, ordinal in now.collects:
      for task in self.tasks:
        name = collect.simulation(task.name)
        result = self._existing(collect, name, ordinal) or self._simulate(collect, task, name,
                                                                         ordinal, now.phase_step)
        if collect.prefix == 'train':
          summaries[f'collection/{name}/return'] = result['return']
        else:
          summaries[f'simulation/{name}/return'] = result['return']
          if 'image' in result['episodes'][0]:  # Rendered frames, also when the model sees states.
            videos[f'simulation/{name}/animation'] = result['episodes'][0]['image']
          self._scores.append(result['return'])
    return summaries, videos

  def _existing(self, collect, name, ordinal):
    index = self.index[collect.prefix]
    first = ordinal * collect.batch_size
    paths = [index.get(name, first + i) for i in range(collect.batch_size)]
    if not all(paths):
      for path in filter(None, paths):  # Part of a batch: it is collected again, whole.
        index.forget(path)
        os.remove(path)
      return None
    loaded = [episodes.load_or_none(path) for path in paths]
    if any(episode is None for episode in loaded):
      for path in paths:
        index.forget(path)
      return None
    returns = [float(episode['reward'].sum()) for episode in loaded]
    log.info(f'{name}: episode {ordinal} is on disk from before the resume: return '
             f'{np.mean(returns):.1f}.')
    return {'return': float(np.mean(returns)), 'returns': returns, 'episodes': loaded}

  def _simulate(self, collect, task, name, ordinal, phase_step):
    if name not in self._simulations:
      self._simulations[name] = self._make_simulation(collect, task, self.dirs[collect.prefix])
    result = self._simulations[name].run(collect.noise(phase_step), ordinal)
    for path in result['paths']:
      self.index[collect.prefix].add(path)
    log.info(f'{name}: return {result["return"]:.1f}, {result["length"]} steps in '
             f'{result["seconds"]:.1f} s.')
    return result

  def _print_metrics(self, now):
    means = {k: np.mean(v) for k, v in self._metrics.items()}
    names = [k for k in self.learner.objective.scales if k in means]
    log.info(f'objectives: step/{"/".join(names)} = '
             f'[{now.step}, {", ".join(f"{means[k]:.4g}" for k in names)}]')
    log.info(f'grad_norms: step/main = [{now.step}, {means["grad_norm"]:.4g}]')
    self._metrics.clear()

  def _log_scalars(self, now, metrics):
    summaries = {f'objectives/{k}': v for k, v in metrics.items() if k not in ('loss', 'grad_norm')}
    summaries['loss'] = metrics['loss']
    summaries['optimizer/grad_norm'] = metrics['grad_norm']
    summaries['optimizer/clipped_gradient_norm'] = min(metrics['grad_norm'], self.learner.clipping)
    summaries['optimizer/learning_rate'] = self.learner.learning_rate
    summaries['dataset/episodes'] = len(self.index['train'])
    summaries['step'] = now.phase_step
    now_time, last_step = time.time(), now.step + self.batch
    summaries['steps_per_second'] = (last_step - self._last_log[1]) / max(
        now_time - self._last_log[0], 1e-9)
    self._last_log = (now_time, last_step)
    return summaries

  def _write(self, now, scalars, videos, data):
    """The step's summaries into the phase's event files and its scalars, with those of `log_model`,
    into metrics.jsonl; each skips a step it holds already (a resumed run replays steps)."""
    if not (scalars or videos or data is not None):
      return
    phase, step = now.phase.name, now.summary_step
    values = dict(scalars)

    def write():
      if data is not None:
        values.update(rich.log_model(self.model, data, step, self.image_bits))
      for name, frames in videos.items():
        rich.gif(name, frames[None] / 255.0, step)
      for name, value in scalars.items():
        tf.summary.scalar(name, value, step=step)

    written = self.writers[phase].write(step, write)
    if not written and data is not None and self.metrics.due(phase, step):
      # Killed between the two writes: the events have the step, metrics.jsonl not (no writer here).
      values.update(rich.log_model(self.model, data, step, self.image_bits))
    if values:
      self.metrics.write(phase, step, values)

  def close(self):
    self.data.clear()  # Stops the generator-backed input pipelines before the interpreter exits.
    for writer in self.writers.values():
      writer.close()
    self.metrics.close()
    for simulation in self._simulations.values():
      simulation.close()
