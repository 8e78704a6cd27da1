"""hyperfields: text -> NeRF in one forward pass of a dynamic hypernetwork (HyperFields, ICML 2024)."""

__version__ = "0.1.0"
