"""Where the time of one train step goes: per-part timing and the TF profiler's op types.

  python3 scripts/profile_step.py [--batch-shape 50 50] [--precision 32] [--repeats 3] [--ops 20]

Parts, each timed alone as a tf.function (forward and backward: gradients for the part's variables and,
except for the encoder, its inputs), on the inputs the step gives it: the encoder, the RSSM unroll
(`observe`), the decoder, the reward head, the losses (image and reward log-likelihoods and the KL with
free nats, given their inputs), and gradient clipping plus Adam. Then the whole step (the trainer's
Learner.train) and the sum of op times by op type from the TF profiler over the whole step. The input
pipeline is measured by `scripts/benchmark.py --input-pipeline`.

The parts run alone, so their sum differs from the whole step (which overlaps independent ops on its
inter-op threads). Runs with the code it finds on PYTHONPATH, so the same script profiles older commits.
"""

import argparse
import collections
import glob
import os
import tempfile
import time

from planet.tools import quiet_start

quiet_start.install()  # A script, never imported: before TensorFlow loads, below.

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from planet.scripts import build  # noqa: E402
from planet.scripts import configs  # noqa: E402
from planet.training import objective  # noqa: E402


def best_of(fn, repeats):
  fn()
  fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return min(times)


def gradients(fn, variables, inputs):
  """A tf.function computing fn(*inputs), a scalar of its outputs and the gradients."""
  @tf.function
  def run(*inputs):
    with tf.GradientTape() as tape:
      tape.watch(inputs)
      outputs = fn(*inputs)
      total = tf.add_n([tf.reduce_sum(tf.cast(x, tf.float32)) for x in tf.nest.flatten(outputs)])
    return total, tape.gradient(total, list(variables) + list(inputs))
  return lambda: run(*inputs)[0].numpy()


def op_types(function, calls=2):
  """({op type: seconds per call}, {op type: ops per call}) of `function` under TensorFlow's profiler,
  summed over the executor's threads; ops inside a while loop (tf.scan, tf.range) are their own type."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2
  directory = tempfile.mkdtemp(prefix='profile-ops-')
  tf.profiler.experimental.start(directory)
  for _ in range(calls):
    function()
  tf.profiler.experimental.stop()
  path = glob.glob(os.path.join(directory, '**', '*.xplane.pb'), recursive=True)[0]
  space = xplane_pb2.XSpace()
  with open(path, 'rb') as f:
    space.ParseFromString(f.read())
  times, counts = collections.Counter(), collections.Counter()
  for plane in space.planes:
    for line in plane.lines:
      if not line.name.startswith('tf_Compute'):
        continue
      for event in line.events:
        name = plane.event_metadata[event.metadata_id].name
        if name.startswith('ExecutorState') or name == 'ParallelFor':
          continue
        kind = name.split(':')[-1]
        if '/while/' in name:
          kind += ' (in a loop)'
        times[kind] += event.duration_ps / 1e12 / calls
        counts[kind] += 1 / calls
  return times, counts


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch-shape', type=int, nargs=2, default=[50, 50])
  parser.add_argument('--precision', type=int, default=32)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--ops', type=int, default=20, help='op types to list (0: no profiler)')
  args = parser.parse_args()
  batch, length = args.batch_shape
  overrides = {'batch_shape': [batch, length], 'train_steps': batch, 'test_steps': batch}
  if args.precision != 32:
    overrides['precision'] = args.precision
  params = configs.resolve(overrides)
  model = build.model(params, action_size=6)
  learner = build.learner(params, model)
  config = build.objective_config(params, model)
  data = {'image': tf.random.uniform([batch, length, 64, 64, 3]) - 0.5,
          'action': tf.random.uniform([batch, length, 6], -1, 1),
          'reward': tf.random.uniform([batch, length])}
  learner.compile({k: tf.TensorSpec(v.shape, v.dtype) for k, v in data.items()})

  embedding = model.encoder(data['image'])
  post, prior = model.cell.observe(embedding, data['action'])
  features = model.cell.features(post)
  image, reward = model.decoder(features).mean(), model.reward(features).mean()
  normal = lambda mean, dims: tfp.distributions.Independent(tfp.distributions.Normal(mean, 1.0), dims)

  def losses(image, reward, post_mean, post_stddev, prior_mean, prior_stddev):
    kl = model.cell.divergence({'mean': post_mean, 'stddev': post_stddev},
                               {'mean': prior_mean, 'stddev': prior_stddev})
    return (-tf.reduce_mean(normal(image, 3).log_prob(data['image']))
            - tf.reduce_mean(normal(reward, 0).log_prob(data['reward']))
            + tf.reduce_mean(objective.free_nats(kl, config.free_nats)))

  variables = model.trainable_variables
  grads = [tf.zeros_like(v) for v in variables]

  @tf.function
  def clip_and_adam(grads):
    norm = tf.linalg.global_norm(grads)
    clipped, _ = tf.clip_by_global_norm(grads, learner.clipping, norm)
    learner.optimizer.apply_gradients(zip(clipped, variables))
    return norm

  parts = {
      'encoder': gradients(
          lambda: model.encoder(data['image']), model.encoder.trainable_variables, []),
      'rssm unroll (observe)': gradients(
          lambda e, a: model.cell.observe(e, a), model.cell.trainable_variables,
          [embedding, data['action']]),
      'decoder': gradients(lambda f: model.decoder(f).mean(), model.decoder.trainable_variables,
                           [features]),
      'reward head': gradients(lambda f: model.reward(f).mean(), model.reward.trainable_variables,
                               [features]),
      'losses (log-probs, KL)': gradients(
          losses, [], [image, reward, post['mean'], post['stddev'], prior['mean'], prior['stddev']]),
      'clip + Adam': lambda: clip_and_adam(grads).numpy(),
  }
  full = lambda: learner.train(data)['loss'].numpy()
  seconds = {name: best_of(fn, args.repeats) for name, fn in parts.items()}
  step = best_of(full, args.repeats)
  total = sum(seconds.values())
  print(f'train step {batch}x{length}, precision {args.precision}: {step:.3f} s '
        f'(sum of the parts alone: {total:.3f} s)')
  for name, value in seconds.items():
    print(f'  {name:<24}{value:8.3f} s  {100 * value / total:5.1f}% of the parts')
  if args.ops:
    times, _ = op_types(full)
    print(f'op types (seconds per step, summed over threads; total {sum(times.values()):.3f} s):')
    for name, value in times.most_common(args.ops):
      print(f'  {value:8.3f}  {name}')


if __name__ == '__main__':
  main()
