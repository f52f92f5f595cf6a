"""Registries: the extension points (models, networks, planners, planner objectives, tasks).

A registry maps a name to an object, or to a `'module:attribute'` string that is imported on first use,
so that params validation can list the names without importing TensorFlow. Registering is one line:

  OBJECTIVES.register('reward', reward)                          # an object
  MODELS.register('rssm', 'planet.models.rssm:RSSM')             # imported when first used

Params are checked against the names registered at the time of the check, so an entry registered by a
user's script (or a test) is a valid params value from then on.
"""

import importlib


class Registry:

  def __init__(self, kind, entries=None):
    self.kind = kind
    self._entries = dict(entries or {})

  def register(self, name, target):
    """Adds or replaces `name`. Returns `target`, so it also works as a decorator factory's result."""
    self._entries[name] = target
    return target

  def unregister(self, name):
    self._entries.pop(name, None)

  def __contains__(self, name):
    return name in self._entries

  def __iter__(self):
    return iter(self._entries)

  def __len__(self):
    return len(self._entries)

  def names(self):
    return tuple(self._entries)

  def __getitem__(self, name):
    if name not in self._entries:
      raise KeyError(f'unknown {self.kind} {name!r}; registered: {", ".join(self._entries)}')
    target = self._entries[name]
    if isinstance(target, str):
      module, _, attribute = target.partition(':')
      target = importlib.import_module(module)
      target = getattr(target, attribute) if attribute else target
      self._entries[name] = target
    return target
