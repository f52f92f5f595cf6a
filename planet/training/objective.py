"""The world-model objective (spec 5.2-5.4, 5.7): Gaussian log-likelihoods of image and reward, and the
KL between posterior and prior with free nats applied per batch element and time step."""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def free_nats_divergence(kl, free_nats):
  """mean over [B, T] of max(0, KL - free_nats); plain mean when free_nats is None."""
  if free_nats is not None:
    kl = tf.maximum(0.0, kl - free_nats)
  return tf.reduce_mean(kl)


def head_log_prob(name, mean, target):
  if name == 'image':
    return tfd.Independent(tfd.Normal(mean, 1.0), 3).log_prob(target)
  return tfd.Normal(mean, 1.0).log_prob(target)


def loss_scales(params):
  """In the original's insertion order; zero scales are skipped (spec 2.4, 5.3)."""
  scales = {
      'reward': params['reward_loss_scale'],
      'divergence': params['divergence_scale'],
      'image': params['image_loss_scale'],
  }
  return {k: v for k, v in scales.items() if v}


def compute(model, data, params):
  """Returns (loss, objectives): objectives are the raw values (log-likelihoods to maximise, the
  free-nat-clipped KL to minimise); the loss is their scaled sum with the right signs."""
  embedding = model.encoder(data['image'])
  post, prior = model.cell.observe(embedding, data['action'])
  features = model.cell.features(post)
  objectives = {}
  loss = 0.0
  for name, scale in loss_scales(params).items():
    if name == 'divergence':
      kl = model.cell.divergence(post, prior)
      objectives[name] = free_nats_divergence(kl, params['free_nats'])
      loss += scale * objectives[name]
      continue
    inputs = features if name in params['gradient_heads'] else tf.stop_gradient(features)
    mean = model.heads[name](inputs)
    objectives[name] = tf.reduce_mean(head_log_prob(name, mean, data[name]))
    loss -= scale * objectives[name]
  return loss, objectives
