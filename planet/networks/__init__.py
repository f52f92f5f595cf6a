"""Encoder/decoder pairs, selected by the `network` param.

A network module defines `Encoder(dtype)` ([..., 64, 64, 3] images -> [..., E] embeddings) and
`Decoder(dtype)` ([..., F] features -> [..., 64, 64, 3] float32 image means), whose layers compute in
the compute dtype `dtype` with float32 variables. Adding one is a module plus a line.
"""

from planet.tools.registry import Registry

NETWORKS = Registry('network', {
    'conv_ha': 'planet.networks.conv_ha',
})
