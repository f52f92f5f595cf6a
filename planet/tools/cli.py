"""Command-line helpers shared by the scripts."""

import argparse


class Parser(argparse.ArgumentParser):
  """argparse with the project's one-line errors (`error: ...`, exit 2; no usage block) and the whole
  module docstring as the help text."""

  def __init__(self, doc, **kwargs):
    super().__init__(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

  def error(self, message):
    self.exit(2, f'error: {message}\n')


def strict_bool(text):
  """The original's flag parsing: only the exact strings True and False."""
  if text not in ('True', 'False'):
    raise argparse.ArgumentTypeError(f'expected True or False, got {text!r}')
  return text == 'True'
