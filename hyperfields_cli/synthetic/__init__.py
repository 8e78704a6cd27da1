"""The procedural world: shapes x attributes as analytic radiance fields, plus prompt packs.

It is the offline ground truth the tool teaches, distills and measures with when Stable
Diffusion is unavailable, and what `hyperfields teach --prompt-pack bowls` uses out of the box.
"""

from hyperfields_cli.synthetic.dataset import export_nerf_dataset
from hyperfields_cli.synthetic.materials import ATTRIBUTES, COLOURS, Attribute
from hyperfields_cli.synthetic.packs import (
    PromptEntry,
    PromptPack,
    available_packs,
    builtin_dir,
    load_pack,
)
from hyperfields_cli.synthetic.scene import BACKGROUND, ProceduralScenes, SceneSpec, match_prompt
from hyperfields_cli.synthetic.shapes import SHAPES, Shape

__all__ = [
    "ATTRIBUTES",
    "BACKGROUND",
    "COLOURS",
    "SHAPES",
    "Attribute",
    "ProceduralScenes",
    "PromptEntry",
    "PromptPack",
    "SceneSpec",
    "Shape",
    "available_packs",
    "builtin_dir",
    "export_nerf_dataset",
    "load_pack",
    "match_prompt",
]
