"""What the planner maximises, selected by `collect_objective` or a collect spec's `objective`.

An objective maps the model and a batch of imagined state sequences (a dict of [N, H, ...] tensors) to
one number per sequence, [N]. Adding one is a function plus a line:

  def novelty(model, states):
    return tf.reduce_sum(model.cell.dist(states).entropy(), 1)

  OBJECTIVES.register('novelty', novelty)
"""

from planet.tools.registry import Registry

OBJECTIVES = Registry('objective', {
    # The sum over the horizon of the reward head's mean, undiscounted (the paper's).
    'reward': 'planet.control.planning:reward_objective',
})
