"""Turns an image strip (rows: batch entries, columns: time steps) into an animation (spec 1.7).

  python3 -m planet.scripts.create_video -i strip.png -o out.gif|out.mp4 [-f] [-x 64] [-y 64] [-r 10]

Each frame is one time column, with the batch entries side by side. GIFs are written with imageio
(pillow), MP4s with imageio's ffmpeg plugin (the imageio-ffmpeg package ships its own ffmpeg).
"""

import argparse
import os
import sys

import imageio.v3 as iio
import numpy as np


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
  if path.endswith('.gif'):
    iio.imwrite(path, frames, extension='.gif', duration=1000 / fps, loop=0)
  elif path.endswith('.mp4'):
    # libx264 needs even sizes: pad by edge replication where needed.
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
      frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode='edge')
    iio.imwrite(path, frames, plugin='FFMPEG', fps=fps)
  else:
    raise ValueError(f'animation path {path!r} must end in .gif or .mp4')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('-i', '--image-path', required=True)
  parser.add_argument('-o', '--animation-path', required=True)
  parser.add_argument('-f', '--overwrite', action='store_true')
  parser.add_argument('-x', '--tile-width', type=int, default=64)
  parser.add_argument('-y', '--tile-height', type=int, default=64)
  parser.add_argument('-r', '--fps', type=float, default=10)
  parser.add_argument('-d', '--dpi', type=int, default=50,
                      help='accepted for compatibility; frames are written at their pixel size')
  args = parser.parse_args(argv)
  if os.path.exists(args.animation_path) and not args.overwrite:
    print('Skip rendering animation because it exists already (use -f to overwrite).')
    return 0
  try:
    strip = iio.imread(args.image_path)
    if strip.ndim == 2:
      strip = strip[..., None].repeat(3, -1)
    frames = frames_from_strip(strip[..., :3], args.tile_width, args.tile_height)
    write(frames, args.animation_path, args.fps)
  except (ValueError, OSError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(f'Wrote {len(frames)} frames to {args.animation_path}.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
