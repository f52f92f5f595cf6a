"""Encoder/decoder pairs, selected by the `network` param.

A network module defines `Encoder()` ([..., 64, 64, 3] images -> [..., E] embeddings) and
`Decoder()` ([..., F] features -> [..., 64, 64, 3] image means). Adding one is a module plus a line.
"""

from planet.tools.registry import Registry

NETWORKS = Registry('network', {
    'conv_ha': 'planet.networks.conv_ha',
})
