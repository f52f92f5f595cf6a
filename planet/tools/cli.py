"""Command-line helpers shared by the scripts."""

import argparse
import signal
import threading

# Set by every Ctrl-C or SIGTERM the handlers below receive, for a loop that calls into a library which
# may swallow the KeyboardInterrupt (the sweep's driver once ignored a Ctrl-C inside Ray's calls).
INTERRUPTED = threading.Event()


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


def note_interrupts():
  """SIGTERM (`kill`, a cluster preempting the job) stops the command as Ctrl-C does: a KeyboardInterrupt
  in the main thread, so that a run saves its checkpoint and the same command resumes it. Both also
  set INTERRUPTED, which the trainer's and the sweep's loops check (`raise_if_interrupted`) in case
  the exception was lost inside TensorFlow's or Ray's calls."""
  INTERRUPTED.clear()
  signal.signal(signal.SIGINT, _interrupt)
  signal.signal(signal.SIGTERM, _interrupt)


def raise_if_interrupted():
  if INTERRUPTED.is_set():
    raise KeyboardInterrupt('interrupted')


def _interrupt(signum, frame):
  INTERRUPTED.set()
  raise KeyboardInterrupt(f'signal {signum}')
