"""The world-model objective, term by term, in the order the terms are logged (the original's order):

  reward                  log p(r_t | s_t), the reward head
  <component>, ...        log p(component_t | s_t) of each diagnostic head (state_diagnostics)
  divergence              KL(posterior || prior) per batch element and time step, with free nats
  global_divergence       KL(posterior || N(0, I))
  overshooting            KL(posterior || open-loop prior) 2..distance steps ahead, with free nats
  image, state            log p(o_t | s_t) of each observation's decoder

Log-likelihoods are maximised and divergences minimised: the loss is the sum of -scale * log-likelihood
and +scale * divergence. Every head returns a distribution, so a log-likelihood term is the head's
`log_prob` of its target, averaged over batch and time. A term with scale 0 is not computed.

To add a term: write it below as a function of (model, data, states, config) that returns a scalar,
add its name to `names()` and, if it is a divergence (minimised), to DIVERGENCES; then declare its scale
in planet/scripts/configs.py PARAMS (`<name>_loss_scale`, or the name in SCALE_KEYS) and document it
in docs/params.md.
"""

import dataclasses

import tensorflow as tf

from planet.tools import overshooting as overshooting_lib

# Terms whose params key is not `<name>_loss_scale` (the original's names).
SCALE_KEYS = {'divergence': 'divergence_scale', 'global_divergence': 'global_div_scale',
              'overshooting': 'overshooting_scale'}


@dataclasses.dataclass(frozen=True)
class Config:
  """The objective's settings. `scales` maps each term to its scale, in the order of `names()`; a
  term with scale 0 or missing is left out and not computed."""
  scales: dict
  free_nats: float = 3.0
  overshooting_distance: int = 0
  os_stop_posterior_grad: bool = True
  gradient_heads: tuple = ('image', 'reward')


def names(model):
  """Every term of the objective of `model`, in the order they are computed and logged."""
  return ['reward', *model.state_heads, 'divergence', 'global_divergence', 'overshooting',
          *model.observations]


def scale_key(name):
  """The params key of a term's scale."""
  return SCALE_KEYS.get(name, f'{name}_loss_scale')


def free_nats(kl, amount):
  """max(0, KL - amount) per entry: divergence below `amount` nats is free (None: the KL itself)."""
  return kl if amount is None else tf.maximum(0.0, kl - amount)


def divergence(model, data, states, config):
  """Free nats per batch element and time step, then the mean (not the mean, then free nats)."""
  del data
  kl = model.cell.divergence(states['posterior'], states['prior'])
  return tf.reduce_mean(free_nats(kl, config.free_nats))


def global_divergence(model, data, states, config):
  del data, config
  post = states['posterior']
  unit = {'mean': tf.zeros_like(post['mean']), 'stddev': tf.ones_like(post['stddev'])}
  return tf.reduce_mean(model.cell.divergence(post, unit))


def overshooting(model, data, states, config):
  """KL(posterior || open-loop prior) for predictions 2..distance steps ahead, free nats per entry,
  then the mean over all B * T * (distance - 1) entries, as the original; the entries past the end
  of the sequence are masked explicitly (they are NaN in the original's KL)."""
  cell, action = model.cell, data['action']
  batch, steps = tf.shape(action)[0], action.shape[1]
  _, prior, post, mask = overshooting_lib.overshooting(
      cell, {}, None, action, tf.fill([batch], steps), config.overshooting_distance,
      states['posterior'])
  prior, post, mask = tf.nest.map_structure(lambda x: x[:, :, 1:-1], (prior, post, mask))
  if config.os_stop_posterior_grad:
    post = tf.nest.map_structure(tf.stop_gradient, post)

  def safe(state):  # Unit Gaussians where masked, so that neither the KL nor its gradient is NaN.
    keep = mask[..., None]
    return {'mean': tf.where(keep, state['mean'], 0.0),
            'stddev': tf.where(keep, state['stddev'], 1.0)}

  kl = free_nats(cell.divergence(safe(post), safe(prior)), config.free_nats)
  return tf.reduce_mean(tf.where(mask, kl, 0.0))


DIVERGENCES = {'divergence': divergence, 'global_divergence': global_divergence,
               'overshooting': overshooting}


def log_likelihood(name, model, data, states, config):
  """The mean log-likelihood of head `name`'s target; the head trains on stopped-gradient features
  unless it is one of the gradient heads."""
  features = states['features']
  if name not in config.gradient_heads:
    features = tf.stop_gradient(features)
  return tf.reduce_mean(model.heads[name](features).log_prob(model.targets(data)[name]))


def compute(model, data, config):
  """Returns (loss, objectives): objectives are the raw values (log-likelihoods to maximise, the
  free-nat-clipped divergences to minimise) of the terms with a scale; the loss is their scaled sum
  with the right signs."""
  posterior, prior = model.cell.observe(model.embed(data), data['action'])
  states = {'posterior': posterior, 'prior': prior, 'features': model.cell.features(posterior)}
  objectives, loss = {}, 0.0
  for name in names(model):
    scale = config.scales.get(name, 0.0)
    if not scale:
      continue
    if name in DIVERGENCES:
      objectives[name] = DIVERGENCES[name](model, data, states, config)
      loss += scale * objectives[name]
    else:
      objectives[name] = log_likelihood(name, model, data, states, config)
      loss -= scale * objectives[name]
  return loss, objectives
