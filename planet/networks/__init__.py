"""Encoder/decoder pairs, selected by the `network` param (for images) and `state_network` (for state
vectors).

A network module defines two functions, `encoder(shape, config)` and `decoder(shape, config)`, for
observations of `shape` ([64, 64, 3] images, [N] vectors) and a models.ModelConfig (the compute dtype
and the sizes of the params). The encoder maps [..., *shape] observations to [..., E] float32
embeddings; the decoder maps [..., F] features to the observation's distribution (a unit-variance
Normal around the decoded means). Layers compute in `config.compute_dtype` with float32 variables.
Adding one is a module plus a line.
"""

from planet.tools.registry import Registry

NETWORKS = Registry('network', {
    'conv_ha': 'planet.networks.conv_ha',  # images: World Models' convolutions, the paper's
    'mlp': 'planet.networks.mlp',  # vectors: dense layers of the heads' sizes
})
