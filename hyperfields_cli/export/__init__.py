"""Writers shared by generate, teach validation and benchmarks: images, videos, meshes."""

from hyperfields_cli.export.images import contact_sheet, depth_to_rgb, save_image, to_uint8
from hyperfields_cli.export.mesh import extract_mesh, save_mesh
from hyperfields_cli.export.video import save_video

__all__ = [
    "contact_sheet",
    "depth_to_rgb",
    "extract_mesh",
    "save_image",
    "save_mesh",
    "save_video",
    "to_uint8",
]
