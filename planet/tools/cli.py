"""Command-line helpers shared by the scripts."""

import argparse


def strict_bool(text):
  """The original's flag parsing: only the exact strings True and False."""
  if text not in ('True', 'False'):
    raise argparse.ArgumentTypeError(f'expected True or False, got {text!r}')
  return text == 'True'
