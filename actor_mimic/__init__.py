"""actor-mimic: Actor-Mimic distillation from shareable teacher datasets.

Data flows one way through the subpackages:

    common/    environments, networks, checkpoints, the store schema (imports nothing above it)
    collect/   expert rollouts -> teacher stores (Zarr or HDF5)
    datasets/  teacher stores -> training batches
    distill/   training batches -> an Actor-Mimic Network (Lightning)
    transfer/  DQN learning on a game, from scratch or initialised from an AMN
"""

__version__ = "0.1.0"
