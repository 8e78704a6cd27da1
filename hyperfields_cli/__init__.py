"""hyperfields: text -> NeRF in one forward pass of a dynamic hypernetwork (HyperFields)."""

__version__ = "0.1.0"
