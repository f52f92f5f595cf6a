"""The one reader of TensorBoard event files: the scalars of an event folder and the last step written.

Used by the trainer's writers (what a resumed run already wrote), and by the results, `plot_scores` and
`fetch_events` for runs without metrics.jsonl. It streams the records without loading TensorFlow and
never decodes image or GIF payloads. An event file is a TFRecord file: each record is a little-endian
uint64 length, its CRC, the data (one serialized `Event`) and the data's CRC. A record cut short, as the
last one of a killed writer can be, ends that file's readable part.
"""

import collections
import fnmatch
import glob
import os
import struct

Events = collections.namedtuple('Events', 'last_step, scalars, skipped')
Events.__doc__ = """`last_step`: the largest step of any summary (-1 without any); `scalars`:
{tag: [(wall_time, step, value)]} sorted by step; `skipped`: the tags asked for that are not scalars."""


def files(directory):
  """The event files directly under `directory`, oldest first.

  A name holds its creation time in whole seconds, then the host, the process id and a counter of the
  process's writers, so sorting names misorders two files of one second whose counters differ in
  digits (9 and 10) or that two processes wrote. A summary's event holds its time to the microsecond:
  the first one of each file orders them (a file without one: its version record's whole seconds, or
  without any record the name's), and the name's numbers, compared as numbers, break a tie."""
  def key(path):
    numbers = [int(part) for part in os.path.basename(path).split('.') if part.isdigit()]
    started = _started(path)
    if started is None:  # not one whole record: the name's seconds
      started = numbers[0] if numbers else 0.0
    return started, numbers
  return sorted(glob.glob(os.path.join(glob.escape(directory), '*tfevents*')), key=key)


def _started(path):
  """The wall time of the first summary of an event file, else of its first record; None without a
  whole record."""
  from google.protobuf.message import DecodeError
  from tensorboard.compat.proto import event_pb2
  first = None
  for record in records(path):
    try:
      event = event_pb2.Event.FromString(record)
    except DecodeError:
      break
    if event.summary.value:
      return event.wall_time
    first = event.wall_time if first is None else first
  return first


def _spans(path):
  """(offset, length) of the data of each complete record of a TFRecord file, from the headers alone."""
  size = os.path.getsize(path)
  with open(path, 'rb') as f:
    offset = 0
    while offset + 12 <= size:
      f.seek(offset)
      length, = struct.unpack('<Q', f.read(12)[:8])
      if offset + 12 + length + 4 > size:
        return
      yield offset + 12, length
      offset += 12 + length + 4


def records(path):
  """The data of each record of a TFRecord file, up to the first record cut short."""
  with open(path, 'rb') as f:
    while True:
      header = f.read(12)
      if len(header) < 12:
        return
      length, = struct.unpack('<Q', header[:8])
      data = f.read(length)
      if len(data) < length or len(f.read(4)) < 4:
        return
      yield data


def last_step(directory):
  """The largest step of a summary in the event files of `directory` (-1 without any), reading only
  the record headers and the last summary of each file: a writer writes its steps in increasing order
  (the trainer's writers do), so its last summary has its largest step. Seconds instead of minutes for
  the gigabytes of images of a long run."""
  from google.protobuf.message import DecodeError
  from tensorboard.compat.proto import event_pb2
  last = -1
  for path in files(directory):
    with open(path, 'rb') as f:
      for offset, length in reversed(list(_spans(path))):
        f.seek(offset)
        try:
          event = event_pb2.Event.FromString(f.read(length))
        except DecodeError:
          continue
        if event.summary.value:
          last = max(last, event.step)
          break
  return last


def matcher(tags):
  """A predicate of tag names: an fnmatch glob, or a collection of names."""
  if isinstance(tags, str):
    return lambda tag: fnmatch.fnmatch(tag, tags)
  return set(tags).__contains__


def _scalar(value):
  """The float of a scalar summary value, or None for anything else (images, histograms, text)."""
  from tensorboard.util import tensor_util
  if value.HasField('simple_value'):  # the TF1 summary API
    return float(value.simple_value)
  if not value.HasField('tensor') or value.tensor.tensor_shape.dim:
    return None
  array = tensor_util.make_ndarray(value.tensor)
  return float(array) if array.dtype.kind in 'biuf' else None


def read(directory, tags='*'):
  """The `Events` of the event files directly under `directory`, for the scalar tags matching `tags`
  (an fnmatch glob, or a collection of tag names).

  The files are read in the order they were written; a file written after a resume replaces a tag's
  values of older files from its first step of that tag on, as TensorBoard shows them.
  """
  from google.protobuf.message import DecodeError
  from tensorboard.compat.proto import event_pb2
  wanted = matcher(tags)
  last, result, skipped = -1, {}, set()
  for path in files(directory):
    found = collections.defaultdict(dict)
    for record in records(path):
      try:
        event = event_pb2.Event.FromString(record)
      except DecodeError:
        break
      if not event.summary.value:
        continue
      last = max(last, event.step)
      for value in event.summary.value:
        if not wanted(value.tag) or value.tag in skipped:
          continue
        number = _scalar(value)
        if number is None:
          skipped.add(value.tag)
        else:
          found[value.tag][event.step] = (event.wall_time, number)
    for tag, values in found.items():
      first = min(values)
      kept = {step: v for step, v in result.get(tag, {}).items() if step < first}
      result[tag] = {**kept, **values}
  skipped -= set(result)
  scalars = {tag: [(wall_time, step, number) for step, (wall_time, number) in sorted(values.items())]
             for tag, values in result.items()}
  return Events(last, scalars, skipped)
