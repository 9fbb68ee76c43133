"""An embedded simulator of the Stract ads API, faithful to ``stract-api.md``."""

from .dataset import Dataset, SimAccount, SimPlatform, real_dataset, synthetic_dataset
from .faults import FAULT_KINDS, FaultRule, parse_faults
from .growth import Growth
from .server import DEFAULT_TOKEN, Simulator

__all__ = [
    "DEFAULT_TOKEN",
    "FAULT_KINDS",
    "Dataset",
    "FaultRule",
    "Growth",
    "SimAccount",
    "SimPlatform",
    "Simulator",
    "parse_faults",
    "real_dataset",
    "synthetic_dataset",
]
