"""The world-model objective: Gaussian log-likelihoods of the heads (image, reward and,
with state_diagnostics, every state component), the KL between posterior and prior with free nats per
batch element and time step, the global divergence and latent overshooting."""

import dataclasses

import tensorflow as tf
import tensorflow_probability as tfp

from planet.tools import overshooting

tfd = tfp.distributions


@dataclasses.dataclass(frozen=True)
class Config:
  """The objective's settings. `scales` maps each term to its scale, in the original's order
  (reward, state components, divergence, global_divergence, overshooting, image); a term with
  scale 0 is left out and not computed."""
  scales: dict
  free_nats: float = 3.0
  overshooting_distance: int = 0
  os_stop_posterior_grad: bool = True
  gradient_heads: tuple = ('image', 'reward')


def free_nats_divergence(kl, free_nats):
  """mean of max(0, KL - free_nats) over all entries; a plain mean when free_nats is None."""
  if free_nats is not None:
    kl = tf.maximum(0.0, kl - free_nats)
  return tf.reduce_mean(kl)


def overshooting_divergence(cell, posterior, action, distance, free_nats, stop_posterior_grad):
  """KL(posterior || open-loop prior) for predictions 2..distance steps ahead.

  Free nats per entry, then the mean over all B * T * (distance - 1) entries, as the original; the
  entries past the end of the sequence are masked explicitly (they are NaN in the original's KL).
  """
  batch, steps = tf.shape(action)[0], action.shape[1]
  _, prior, post, mask = overshooting.overshooting(
      cell, {}, None, action, tf.fill([batch], steps), distance, posterior)
  prior, post, mask = tf.nest.map_structure(lambda x: x[:, :, 1:-1], (prior, post, mask))
  if stop_posterior_grad:
    post = tf.nest.map_structure(tf.stop_gradient, post)

  def safe(state):  # Unit Gaussians where masked, so that neither the KL nor its gradient is NaN.
    keep = mask[..., None]
    return {'mean': tf.where(keep, state['mean'], 0.0),
            'stddev': tf.where(keep, state['stddev'], 1.0)}

  kl = cell.divergence(safe(post), safe(prior))
  if free_nats is not None:
    kl = tf.maximum(0.0, kl - free_nats)
  return tf.reduce_mean(tf.where(mask, kl, 0.0))


def head_log_prob(name, mean, target):
  """Unit-variance Gaussian log-likelihood, summed over the head's data dimensions."""
  dims = 3 if name == 'image' else target.shape.rank - 2
  return tfd.Independent(tfd.Normal(mean, 1.0), dims).log_prob(target)


def compute(model, data, config):
  """Returns (loss, objectives): objectives are the raw values (log-likelihoods to maximise, the
  free-nat-clipped divergences to minimise); the loss is their scaled sum with the right signs."""
  embedding = model.encoder(data['image'])
  post, prior = model.cell.observe(embedding, data['action'])
  features = model.cell.features(post)
  objectives = {}
  loss = 0.0
  for name, scale in config.scales.items():
    if name == 'divergence':
      value = free_nats_divergence(model.cell.divergence(post, prior), config.free_nats)
    elif name == 'global_divergence':
      unit = {'mean': tf.zeros_like(post['mean']), 'stddev': tf.ones_like(post['stddev'])}
      value = tf.reduce_mean(model.cell.divergence(post, unit))
    elif name == 'overshooting':
      value = overshooting_divergence(
          model.cell, post, data['action'], config.overshooting_distance, config.free_nats,
          config.os_stop_posterior_grad)
    else:
      inputs = features if name in config.gradient_heads else tf.stop_gradient(features)
      mean = model.heads[name](inputs)
      objectives[name] = tf.reduce_mean(head_log_prob(name, mean, data[name]))
      loss -= scale * objectives[name]
      continue
    objectives[name] = value
    loss += scale * value
  return loss, objectives
