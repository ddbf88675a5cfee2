"""Data: the shard format, the training dataset, the RoboNet reader and ``ghvae generate``.

``frames`` (uint8 HWC <-> float CHW) is imported from its own module, so importing this
package does not import torch.
"""

from ghvae_env.data.dataset import VideoDataset
from ghvae_env.data.generate import GeneratorConfig, generate, generate_from_config
from ghvae_env.data.robonet import RoboNetFormatError, read_robonet_file
from ghvae_env.data.shards import Shard, ShardError, list_shards, read_shard, write_shard

__all__ = [
    "VideoDataset",
    "write_shard",
    "read_shard",
    "list_shards",
    "Shard",
    "ShardError",
    "generate",
    "generate_from_config",
    "GeneratorConfig",
    "read_robonet_file",
    "RoboNetFormatError",
]
