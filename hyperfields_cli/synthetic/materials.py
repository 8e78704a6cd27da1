"""Attributes of the procedural world: the paper's eight colours and solid-texture materials.

An attribute turns surface points and normals into albedo: p [M, 3], n [M, 3] -> rgb [M, 3].
`split="ood"` attributes (gold, stained glass) never appear in a training pack. `phrases` are
the natural ways to say the attribute in a prompt ("{}" is the shape noun); `words` are what
`match_prompt` looks for in free text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

from hyperfields_cli.synthetic import textures
from hyperfields_cli.synthetic.consts import const

Split = Literal["train", "ood"]
AlbedoFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Attribute:
    """A named colour or material with its albedo function and split tag."""

    name: str
    split: Split
    kind: Literal["colour", "material"]
    albedo: AlbedoFn
    phrases: tuple[str, ...]
    words: tuple[str, ...] = field(default=())
    description: str = ""


def _flat(rgb: tuple[float, float, float]) -> AlbedoFn:
    def albedo(p: Tensor, n: Tensor) -> Tensor:
        return const(rgb, p).expand(p.shape[0], 3)

    return albedo


COLOURS: dict[str, tuple[float, float, float]] = {
    "yellow": (0.96, 0.82, 0.12),
    "green": (0.16, 0.6, 0.2),
    "orange": (0.98, 0.48, 0.08),
    "purple": (0.48, 0.2, 0.7),
    "mint": (0.6, 0.94, 0.76),
    "blue": (0.13, 0.33, 0.86),
    "red": (0.86, 0.1, 0.1),
    "pink": (0.98, 0.58, 0.74),
}
"""The HyperFields paper's colour attributes and the flat albedo each one renders with."""

_COLOUR_PHRASES = ("a {c} {{}}", "a {c} {{}}", "a {{}} that is {c}", "a {c}-colored {{}}")


def _colour(name: str) -> Attribute:
    phrases = tuple(ph.format(c=name) for ph in _COLOUR_PHRASES)
    return Attribute(
        name, "train", "colour", _flat(COLOURS[name]), phrases, (name,), f"plain {name}"
    )


def _material(
    name: str,
    split: Split,
    fn: AlbedoFn,
    phrases: tuple[str, ...],
    words: tuple[str, ...],
    description: str,
) -> Attribute:
    return Attribute(name, split, "material", fn, phrases, words, description)


ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in (
        *(_colour(c) for c in COLOURS),
        _material(
            "yarn",
            "train",
            textures.yarn,
            ("a {} made of yarn", "a knitted yarn {}", "a yarn {}"),
            ("yarn", "knitted", "knit", "wool", "woollen"),
            "knitted wool stitches",
        ),
        _material(
            "plaid",
            "train",
            textures.plaid,
            ("a plaid {}", "a {} with a plaid pattern", "a tartan plaid {}"),
            ("plaid", "tartan"),
            "red tartan",
        ),
        _material(
            "marble",
            "train",
            textures.marble,
            ("a marble {}", "a {} carved from white marble", "a {} made of marble"),
            ("marble",),
            "veined white marble",
        ),
        _material(
            "wood",
            "train",
            textures.wood,
            ("a wooden {}", "a {} made of wood", "a {} carved from wood"),
            ("wood", "wooden"),
            "wood grain",
        ),
        _material(
            "terracotta",
            "train",
            textures.terracotta,
            ("a terracotta {}", "a {} made of terracotta clay"),
            ("terracotta", "clay"),
            "fired clay",
        ),
        _material(
            "checkered",
            "train",
            textures.checkered,
            ("a checkered {}", "a {} with a black and white checkerboard pattern"),
            ("checkered", "checkerboard", "chequered", "checker"),
            "black/white checks",
        ),
        _material(
            "tiger",
            "train",
            textures.tiger,
            ("a {} with tiger stripes", "a tiger-striped {}", "a {} in tiger print"),
            ("tiger",),
            "orange and black tiger stripes",
        ),
        _material(
            "polka_dots",
            "train",
            textures.polka_dots,
            ("a polka dot {}", "a {} covered in polka dots"),
            ("polka",),
            "white dots on navy",
        ),
        _material(
            "glacier",
            "train",
            textures.glacier,
            ("a {} made of glacier ice", "an icy glacier {}"),
            ("glacier", "ice", "icy"),
            "cracked blue glacier ice",
        ),
        _material(
            "gold",
            "ood",
            textures.gold,
            ("a gold {}", "a {} made of gold", "a golden {}"),
            ("gold", "golden"),
            "polished gold",
        ),
        _material(
            "stained_glass",
            "ood",
            textures.stained_glass,
            ("a stained glass {}", "a {} made of stained glass"),
            ("stained glass", "stained-glass"),
            "leaded stained glass",
        ),
    )
}
"""Every attribute by name (colours first, then materials)."""
