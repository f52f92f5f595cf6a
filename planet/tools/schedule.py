"""Step schedules in example units (spec 6.5)."""


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
