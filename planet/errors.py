"""The one error type for bad user input (params, config files, tasks)."""


class ConfigError(ValueError):
  """A bad params key, value, task or config file. Its message is one line for the user."""
