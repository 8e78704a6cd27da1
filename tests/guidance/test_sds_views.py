"""View-dependent prompt selection by camera angle (polar from +z, azimuth from +x, degrees)."""

from __future__ import annotations

import torch

from hyperfields_cli.guidance.views import (
    BACK,
    FRONT,
    OVERHEAD,
    SIDE,
    VIEWS,
    view_index,
    view_prompts,
)


def test_view_index_by_angle():
    cases = [  # (polar, azimuth) -> view
        (10.0, 0.0, OVERHEAD),
        (29.0, 180.0, OVERHEAD),
        (0.0, 90.0, OVERHEAD),
        (31.0, 0.0, FRONT),
        (60.0, 44.0, FRONT),
        (60.0, -44.0, FRONT),
        (90.0, 360.0, FRONT),
        (60.0, 46.0, SIDE),
        (60.0, 90.0, SIDE),
        (60.0, -90.0, SIDE),
        (60.0, 270.0, SIDE),
        (60.0, 134.0, SIDE),
        (60.0, 136.0, BACK),
        (60.0, 180.0, BACK),
        (100.0, -180.0, BACK),
        (60.0, -136.0, BACK),
        (60.0, 540.0, BACK),
    ]
    polar = torch.tensor([c[0] for c in cases])
    az = torch.tensor([c[1] for c in cases])
    assert view_index(polar, az).tolist() == [c[2] for c in cases]


def test_thresholds_are_configurable():
    polar, az = torch.tensor([40.0, 60.0]), torch.tensor([0.0, 50.0])
    assert view_index(polar, az, overhead_deg=45.0, front_half_width_deg=60.0).tolist() == [
        OVERHEAD,
        FRONT,
    ]


def test_view_prompts():
    assert view_prompts("a yarn pot") == [f"a yarn pot, {v} view" for v in VIEWS]
    assert VIEWS == ("front", "side", "back", "overhead")
