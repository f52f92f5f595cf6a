"""The schedule of a run, in example units: the global step grows by the batch size per update.

An epoch is `train_steps` examples of updates followed by `test_steps` examples of evaluation. `Schedule`
says for every global step what happens there (`Moment`): which phase, whether to log, report a score,
checkpoint, print metrics, and which collections are due and which episode of each they are. The
trainer's loop only asks it. `Progress` prints a status line at most once a minute.
"""

import collections
import dataclasses
import logging
import time

import numpy as np

log = logging.getLogger('planet')

Phase = collections.namedtuple('Phase', 'name, steps, log_every, report_every, checkpoint_every')


def linear(step, ramp, minimum=0.0, maximum=1.0):
  """1 for ramp 0; min(step / ramp, 1) for ramp > 0; 1 - linear(step, -ramp) for ramp < 0; clipped."""
  if ramp == 0:
    value = 1.0
  elif ramp > 0:
    value = min(step / ramp, 1.0)
  else:
    value = 1.0 - linear(step, -ramp)
  return min(max(minimum, value), maximum)


def binary(step, batch, after, every, until):
  """True when some example of the batch starting at `step` falls on the collect grid."""
  if step < after:
    return False
  if until > 0 and step >= until:
    return False
  return (step - after) % every < batch


def is_every(step, batch, every):
  """True when some s in [step, step + batch) has (s + 1) % every == 0 (the trainer's log grid)."""
  if not every:
    return False
  return any((s + 1) % every == 0 for s in range(step, step + batch))


def phases(train_steps, test_steps, checkpoint_every):
  """The train and test phases of an epoch; a phase with 0 steps is left out."""
  result = [
      Phase('train', train_steps, train_steps, None, None),
      Phase('test', test_steps, test_steps, test_steps, checkpoint_every),
  ]
  return [phase for phase in result if phase.steps]


def locate(phases, global_step):
  """(phase, phase_step, summary_step) of a global step.

  The summary step puts each phase's summaries at the start of its epoch on the longest phase's axis.
  """
  epoch, steps_in = divmod(global_step, sum(phase.steps for phase in phases))
  longest = max(phase.steps for phase in phases)
  for phase in phases:
    if steps_in < phase.steps:
      break
    steps_in -= phase.steps
  return phase, epoch * phase.steps + steps_in, epoch * longest + steps_in


@dataclasses.dataclass(frozen=True)
class Collect:
  """A collect spec with every default filled in. Train collects run when `binary(phase step, batch,
  after, every, until)` holds in the train phase; test collects run on every test-phase log step."""
  name: str
  prefix: str
  batch_size: int
  horizon: int
  objective: str
  after: int
  every: int
  until: int
  action_noise: float
  action_noise_ramp: int
  action_noise_min: float
  planner_amount: int
  planner_topk: int
  planner_iterations: int

  def noise(self, phase_step):
    """The exploration noise scale at this phase step."""
    return self.action_noise * linear(phase_step, self.action_noise_ramp, self.action_noise_min)

  def simulation(self, task):
    """The name of this collect's simulation of a task, as the summaries and episode files use it."""
    return f'{self.prefix}_{self.name}_{task}'


@dataclasses.dataclass(frozen=True)
class Moment:
  """What happens at one global step."""
  step: int
  phase: Phase
  phase_step: int
  summary_step: int
  starts_phase: bool
  should_log: bool
  should_report: bool
  should_checkpoint: bool
  should_print: bool
  collects: tuple  # (Collect, ordinal): the collections due now and which episode of each they are


class Schedule:

  def __init__(self, phases, batch, max_steps, collects):
    """`collects` maps 'train' and 'test' to lists of Collect."""
    self.phases = phases
    self.batch = batch
    self.max_steps = max_steps
    self.collects = collects
    train = [phase for phase in phases if phase.name == 'train']
    self.print_every = max(train[0].steps // 10, 1) if train else None
    self._counted = {}  # collect -> (phase step, collections before it), to count incrementally

  def done(self, step):
    return step >= self.max_steps

  def _due(self, collect, phase, phase_step):
    if collect.prefix == 'train':
      return binary(phase_step, self.batch, collect.after, collect.every, collect.until)
    return is_every(phase_step, self.batch, phase.log_every)

  def ordinal(self, collect, phase, phase_step):
    """How many collections of `collect` happened before this phase step."""
    start, count = self._counted.get(collect, (0, 0))
    if start > phase_step:
      start, count = 0, 0
    for step in range(start, phase_step, self.batch):
      count += self._due(collect, phase, step)
    self._counted[collect] = (phase_step, count)
    return count

  def at(self, step):
    phase, phase_step, summary_step = locate(self.phases, step)
    batch = self.batch
    due = tuple(
        (collect, self.ordinal(collect, phase, phase_step))
        for collect in self.collects.get(phase.name, ())
        if self._due(collect, phase, phase_step))
    return Moment(
        step=step, phase=phase, phase_step=phase_step, summary_step=summary_step,
        starts_phase=phase_step % phase.steps < batch,
        should_log=is_every(phase_step, batch, phase.log_every),
        should_report=is_every(phase_step, batch, phase.report_every),
        should_checkpoint=is_every(phase_step, batch, phase.checkpoint_every),
        should_print=phase.name == 'train' and is_every(phase_step, batch, self.print_every),
        collects=due)


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
