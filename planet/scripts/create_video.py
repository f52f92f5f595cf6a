"""Turns an image strip (rows: batch entries, columns: time steps) into an animation.

  python3 -m planet.scripts.create_video -i strip.png -o out.gif|out.mp4 [-f] [-x 64] [-y 64] [-r 10]

The strip is a grid of tiles of -x by -y pixels, as the image summaries of training write them. Each
frame of the animation is one column of the grid, with the rows placed side by side. GIFs are written
with imageio (pillow), MP4s with imageio's ffmpeg plugin (the imageio-ffmpeg package ships its own ffmpeg).
An existing animation is kept unless -f is given.
"""

import math
import os
import sys

import imageio.v3 as iio
import numpy as np

from planet.tools import atomic
from planet.tools import cli

EXTENSIONS = ('.gif', '.mp4')




def check_animation_path(path, flag):
  """None if an animation can be written to `path`, else what is wrong with it (one line)."""
  if os.path.splitext(path)[1].lower() not in EXTENSIONS:
    return f'{flag} {path!r}: allowed: a path ending in .gif or .mp4.'
  folder = os.path.dirname(os.path.abspath(path))
  if os.path.isdir(path):
    return f'{flag} {path!r} is a folder; allowed: a path ending in .gif or .mp4.'
  if not os.path.isdir(folder):
    return f'{flag} {path!r}: the folder {folder} does not exist.'
  if not os.access(folder, os.W_OK | os.X_OK):
    return f'{flag} {path!r}: the folder {folder} is not writable.'
  return None


def frames_from_strip(strip, tile_width=64, tile_height=64):
  """[rows * H, cols * W, C] strip -> [cols, H, rows * W, C] frames."""
  height, width = strip.shape[:2]
  if height % tile_height or width % tile_width:
    raise ValueError(f'strip of {width}x{height} pixels is not a grid of {tile_width}x{tile_height} '
                     'tiles; set -x and -y to the tile size.')
  rows, cols = height // tile_height, width // tile_width
  tiles = strip.reshape(rows, tile_height, cols, tile_width, -1)
  # frame t: the tiles of column t, rows placed side by side horizontally.
  return tiles.transpose(2, 1, 0, 3, 4).reshape(cols, tile_height, rows * tile_width, -1)


def write(frames, path, fps):
  """Writes [T, H, W, 3] uint8 frames as a .gif or .mp4 animation, atomically."""
  extension = os.path.splitext(path)[1].lower()
  if extension not in EXTENSIONS:
    raise ValueError(f'animation path {path!r} must end in .gif or .mp4')

  def encode(f):
    if extension == '.gif':
      iio.imwrite(f, frames, extension='.gif', duration=1000 / fps, loop=0)
    else:
      # libx264 needs even sizes: pad by edge replication where needed, and tell imageio that even is
      # enough (by default it resizes to multiples of 16, blurring the enlarged pixels, with a warning).
      pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
      padded = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode='edge')
      iio.imwrite(f, padded, plugin='FFMPEG', extension='.mp4', fps=fps, macro_block_size=2)

  atomic.write(path, encode)


def _check(args):
  """What is wrong with the arguments (one line), before anything is read or written; or None."""
  for flag, value in (('-x/--tile-width', args.tile_width), ('-y/--tile-height', args.tile_height)):
    if value < 1:
      return f'{flag} {value}: allowed: a positive number of pixels (the size of one tile).'
  if not (math.isfinite(args.fps) and args.fps > 0):
    return f'-r/--fps {args.fps}: allowed: a positive number of frames per second.'
  if not os.path.isfile(args.image_path):
    return f'-i/--image-path {args.image_path!r}: no such file.'
  return check_animation_path(args.animation_path, '-o/--animation-path')


def one_line(error):
  """The first line of an exception's message (or its type's name): user errors are one line."""
  return (str(error).strip().splitlines() or [type(error).__name__])[0]


def main(argv=None):
  parser = cli.Parser(__doc__)
  parser.add_argument('-i', '--image-path', required=True, help='the strip: a PNG (or JPEG) image')
  parser.add_argument('-o', '--animation-path', required=True, help='a path ending in .gif or .mp4')
  parser.add_argument('-f', '--overwrite', action='store_true', help='replace an existing animation')
  parser.add_argument('-x', '--tile-width', type=int, default=64, help='pixels (default: 64)')
  parser.add_argument('-y', '--tile-height', type=int, default=64, help='pixels (default: 64)')
  parser.add_argument('-r', '--fps', type=float, default=10, help='frames per second (default: 10)')
  parser.add_argument('-d', '--dpi', type=int, default=50,
                      help='accepted for compatibility; frames are written at their pixel size')
  args = parser.parse_args(argv)
  problem = _check(args)
  if problem:
    print(f'error: {problem}', file=sys.stderr)
    return 2
  if os.path.exists(args.animation_path) and not args.overwrite:
    print('Skip rendering animation because it exists already (use -f to overwrite).')
    return 0
  try:
    strip = iio.imread(args.image_path)
    if strip.ndim == 2:
      strip = strip[..., None].repeat(3, -1)
    frames = frames_from_strip(strip[..., :3], args.tile_width, args.tile_height)
  except (ValueError, OSError) as e:
    print(f'error: -i/--image-path {args.image_path!r}: {one_line(e)}', file=sys.stderr)
    return 2
  try:
    write(frames, args.animation_path, args.fps)
  except (ValueError, OSError) as e:
    print(f'error: writing {args.animation_path}: {one_line(e)}', file=sys.stderr)
    return 1
  print(f'Wrote {len(frames)} frames to {args.animation_path}.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
