"""Acting: environments, isolation, planning and the agent.

Planners are selected by the `planner` param: a planner is a function
`plan(model, state, action_size, horizon, amount, topk, iterations, min_action, max_action, objective)`
returning the [batch, horizon, action_size] plan of each agent; adding one is a function plus a line.
"""

from planet.tools.registry import Registry

PLANNERS = Registry('planner', {
    'cem': 'planet.control.planning:cem',
})
