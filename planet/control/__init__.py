"""Acting: environments, isolation, planning and the agent.

Planners are selected by the `planner` param: a planner is a function
`plan(model, state, action_size, horizon, amount, topk, iterations, min_action, max_action, objective)`
returning the [batch, horizon, action_size] plan of each agent; adding one is a function plus a line.
AutoGraph converts the planner function itself (a `for _ in tf.range(n)` loop becomes a graph loop), not
the functions it calls: their loops over tensors need tf.while_loop (Python loops over ints are fine).
A planner that also takes `action_transform` (a function of the [N, horizon, action_size] candidates,
applied before the model imagines them) plans tasks with Discrete actions too; it is passed only for
those, so planners without it keep working for Box actions.
"""

from planet.tools.registry import Registry

PLANNERS = Registry('planner', {
    'cem': 'planet.control.planning:cem',
})
