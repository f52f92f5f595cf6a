"""The model-predictive-control agent: filter each new observation into the latent state, plan with
CEM, execute the first action with Gaussian exploration noise, clip to the action bounds."""

import tensorflow as tf

from planet.control import planning
from planet.tools import preprocess


class MPCAgent(tf.Module):
  """Holds the filtered state and previous action of `batch_size` agents between steps.

  `policy` is a tf.function with a fixed signature: it traces once per agent, not once per call. With
  `jit_compile`, the planner is compiled by XLA (also inside the in-graph episode loop).
  """

  def __init__(self, model, batch_size=1, horizon=12, amount=1000, topk=100, iterations=10,
               image_bits=5, min_action=-1.0, max_action=1.0, planner=None, objective=None,
               jit_compile=False, name='agent', action_transform=None):
    """`planner` (default planning.cem) and `objective` (default planning.reward_objective) are
    functions; see planet/control/__init__.py and planet/scripts/objectives.py. `jit_compile` compiles
    the plan with XLA. `action_transform` (Discrete actions: planning.one_hot_argmax) maps the executed
    action to what the model is fed as the previous action, and is passed on to the planner."""
    super().__init__(name=name)
    self._model = model
    plan, settings = planner or planning.cem, dict(
        horizon=horizon, amount=amount, topk=topk, iterations=iterations, min_action=min_action,
        max_action=max_action, objective=objective or planning.reward_objective)
    # AutoGraph converts the planner alone (its loops over tensors, as cem's `for _ in tf.range`), not
    # what it calls: the policy and the episode loop are traced without AutoGraph's source transform,
    # which took 14% of the CPU time of a debug run (36-38 s -> 31-33 s, same machine and load).
    plan = tf.autograph.to_graph(plan, recursive=False)
    self._transform = action_transform
    if action_transform is not None:
      settings['action_transform'] = action_transform
    self._plan = lambda state: plan(model, state, model.action_size, **settings)
    if jit_compile:
      self._plan = tf.function(self._plan, jit_compile=True, autograph=False)
    self._bits = image_bits
    self._min, self._max = min_action, max_action
    initial = model.cell.initial(batch_size)
    self._state = {k: tf.Variable(v, trainable=False) for k, v in initial.items()}
    self._prev_action = tf.Variable(tf.zeros([batch_size, model.action_size]), trainable=False)
    self.observation_spec = observation_spec(model, batch_size)
    self.policy = tf.function(self.act, autograph=False, input_signature=[
        self.observation_spec, tf.TensorSpec([], tf.float32)])

  def begin_episode(self):
    for variable in list(self._state.values()) + [self._prev_action]:
      variable.assign(tf.zeros_like(variable))

  def act(self, observation, noise_scale):
    """One step for every agent: a dict of [N, ...] observations (the keys of `observation_spec`:
    uint8 images, float32 state components) -> [N, A] actions. Not compiled by itself: `policy` is
    its tf.function, and the in-graph episode loop traces it inside its own."""
    model = self._model
    observation = dict(observation)
    if 'image' in observation:
      observation['image'] = preprocess.preprocess(observation['image'], self._bits)
    embedding = model.embed(observation)
    state = {k: v.read_value() for k, v in self._state.items()}
    state, _ = model.cell.posterior(state, self._prev_action.read_value(), embedding)
    plan = self._plan(state)
    action = plan[:, 0]
    action += noise_scale * tf.random.normal(tf.shape(action))
    action = tf.clip_by_value(action, self._min, self._max)
    if self._transform is not None:
      action = self._transform(action)
    for key, variable in self._state.items():
      variable.assign(state[key])
    self._prev_action.assign(action)
    return action


def observation_spec(model, batch_size):
  """{key: TensorSpec} of the environment observations `model` reads, for `batch_size` envs."""
  spec = {}
  for key in model.input_keys:
    if key == 'image':
      spec[key] = tf.TensorSpec([batch_size, 64, 64, 3], tf.uint8)
    else:
      spec[key] = tf.TensorSpec([batch_size, *model.state_components[key]], tf.float32)
  return spec
