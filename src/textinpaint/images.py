"""Images and masks at the edges: PIL / numpy / torch in, uint8 pixels out, and back.

Everything the pipeline accepts is turned into one :class:`Pixels` (uint8 RGB plus the alpha
channel if there was one) and one bool hole mask, so the rest of the code deals with a single
representation and the known pixels can be returned bit for bit.

Conventions (the diffusers ones where they exist):

* PIL images of any mode. ``L``/``1``/``CMYK``... become RGB by PIL's conversion (grey
  replicated), 16-bit greyscale is scaled to 8 bits; ``RGBA``/``LA`` and palette images
  with transparency keep their alpha.
* numpy arrays H×W, H×W×1, H×W×3 or H×W×4: uint8 as is, float in [0, 1], bool as 0/255.
* torch tensors C×H×W or 1×C×H×W (C = 1, 3 or 4): float in [0, 1] — or [-1, 1] if any
  value is negative, as diffusers does — uint8 as is.
* Masks: the same kinds; white / true / > 0.5 is the hole. PIL masks are read as greyscale
  (after compositing any alpha over black) and thresholded at > 127, as the mask files are.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import UserError

EXIF_ORIENTATION = 0x0112
ORIENTATION_KEY = "textinpaint_exif_orientation"
# What ImageOps.exif_transpose does for each EXIF orientation (5-8 swap width and height).
EXIF_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                  4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                  6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                  8: Image.Transpose.ROTATE_90}
# Formats an output file may have, by suffix; JPEG and WebP take a quality.
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


class ImageTooLarge(UserError):
    """An image has more pixels than allowed (the server answers 413)."""


@dataclass
class Pixels:
    """An image as uint8 RGB (H×W×3) and, for inputs with transparency, its alpha (H×W)."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as PIL says it."""
        return self.rgb.shape[1], self.rgb.shape[0]

    def to_pil(self) -> Image.Image:
        """RGB, or RGBA when the input had an alpha channel."""
        if self.alpha is None:
            return Image.fromarray(self.rgb)
        return Image.fromarray(np.dstack([self.rgb, self.alpha]))


def network_to_uint8(images: torch.Tensor) -> np.ndarray:
    """B×3×H×W in [-1, 1] (the networks' convention) -> contiguous B×H×W×3 uint8 on the CPU;
    exact for images that came from uint8."""
    x = ((images.detach().float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).cpu().numpy())


def _float_to_uint8(array: np.ndarray) -> np.ndarray:
    if array.min(initial=0) < 0:  # [-1, 1] like the networks' tensors
        array = (array + 1) / 2
    return np.clip(np.rint(array * 255), 0, 255).astype(np.uint8)


def _as_hwc(value, what: str) -> np.ndarray:
    """numpy or torch input as an H×W×C numpy array (C = 1, 3 or 4), dtype untouched."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim == 3 and t.shape[0] in (1, 3, 4):
            t = t.permute(1, 2, 0)
        elif t.ndim != 2:
            raise UserError(f"{what} tensor has shape {tuple(value.shape)}; pass C×H×W "
                            "(C = 1, 3 or 4) or H×W")
        array = t.numpy()
    else:
        array = np.asarray(value)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape[:2]:
        raise UserError(f"{what} array has shape {array.shape}; pass H×W, H×W×3 or H×W×4")
    return array


def _pil_to_pixels(image: Image.Image) -> Pixels:
    if image.mode.startswith("I;16") or (image.mode == "I" and image.getextrema()[1] > 255):
        # 16-bit greyscale: PIL's own conversion would clip at 255; scale to 8 bits instead
        grey = np.asarray(image, dtype=np.float32) / 65535
        return Pixels(np.repeat(_float_to_uint8(grey)[:, :, None], 3, axis=2))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = np.asarray(image.convert("RGBA"))
        return Pixels(np.ascontiguousarray(rgba[:, :, :3]), rgba[:, :, 3].copy())
    return Pixels(np.asarray(image.convert("RGB")).copy())


def to_pixels(image) -> Pixels:
    """Any accepted image input (see the module docstring) as :class:`Pixels`."""
    if isinstance(image, Image.Image):
        try:
            return _pil_to_pixels(image)
        except ValueError as exc:
            raise UserError(f"image mode {image.mode} is not supported ({exc}); save the "
                            "image as an RGB or RGBA PNG") from None
    if not isinstance(image, (np.ndarray, torch.Tensor)):
        raise UserError(f"image must be a PIL image, numpy array or torch tensor, "
                        f"not {type(image).__name__}")
    array = _as_hwc(image, "image")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        array = _float_to_uint8(array.astype(np.float32))
    alpha = array[:, :, 3].copy() if array.shape[2] == 4 else None
    rgb = np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array[:, :, :3]
    return Pixels(np.ascontiguousarray(rgb), alpha)


def to_hole(mask) -> np.ndarray:
    """Any accepted mask input as an H×W bool array, True = hole (white)."""
    if isinstance(mask, Image.Image):
        if mask.mode in ("RGBA", "LA", "PA") or (mask.mode == "P" and "transparency" in mask.info):
            rgba = np.asarray(mask.convert("RGBA"), dtype=np.float32)
            grey = np.asarray(mask.convert("RGB").convert("L"), dtype=np.float32)
            return grey * rgba[:, :, 3] / 255 > 127  # transparent = not painted = kept
        return np.asarray(mask.convert("L")) > 127
    if not isinstance(mask, (np.ndarray, torch.Tensor)):
        raise UserError(f"mask must be a PIL image, numpy array or torch tensor, "
                        f"not {type(mask).__name__}")
    array = _as_hwc(mask, "mask")
    if array.shape[2] != 1:
        array = array[:, :, :3].max(axis=2, keepdims=True)
    array = array[:, :, 0]
    if array.dtype == np.bool_:
        return array.copy()
    if array.dtype == np.uint8:
        return array > 127
    return array.astype(np.float32) > 0.5


def open_image(source: str | Path | bytes, what: str = "image",
               max_pixels: int | None = None) -> Image.Image:
    """Read an image file (path or bytes), upright per its EXIF orientation, fully decoded.

    Raises :class:`UserError` naming ``what`` if it is not a readable image or has more than
    ``max_pixels`` pixels (checked from the header, before decoding).
    """
    name = f"'{source}'" if isinstance(source, (str, Path)) else what
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            if max_pixels is not None and im.width * im.height > max_pixels:
                raise ImageTooLarge(f"{name} has {im.width}×{im.height} pixels, more than the "
                                    f"limit of {max_pixels} pixels; downscale it first")
            im.load()
            orientation = im.getexif().get(EXIF_ORIENTATION, 1)
            # Browsers show photos upright, so masks painted on them are upright too.
            upright = ImageOps.exif_transpose(im)
            upright.info[ORIENTATION_KEY] = orientation  # align_mask turns stored-grid masks
            return upright
    except FileNotFoundError:
        raise UserError(f"{name} does not exist") from None
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"{name} is too large to decode safely; downscale it first") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{name} is not a readable image ({type(exc).__name__}); "
                        "pass a PNG, JPEG, WebP or BMP file") from None


def mask_size_error(mask_size: tuple[int, int], image_size: tuple[int, int],
                    flag: str = "resize_mask=True") -> UserError:
    """The one refusal for a mask whose size is not its image's, naming both sizes."""
    (mw, mh), (iw, ih) = mask_size, image_size
    return UserError(f"the mask is {mw}×{mh} but the image is {iw}×{ih}; pass a mask of the "
                     f"image's size, or {flag} to stretch it (nearest-neighbour)")


def resized_mask_warning(mask_size: tuple[int, int], image_size: tuple[int, int]) -> str:
    """The warning every interface gives when it stretched a mask to its image."""
    (mw, mh), (iw, ih) = mask_size, image_size
    return f"the mask was {mw}×{mh}; stretched to the image's {iw}×{ih} (nearest-neighbour)"


def align_mask(mask: Image.Image, image: Image.Image, resize: bool = False,
               flag: str = "resize_mask=True") -> tuple[Image.Image, list[str]]:
    """``mask`` (a file read by :func:`open_image`) at ``image``'s size and orientation.

    One rule for the CLI and the API: a mask of the image's displayed size is used as it is;
    one of the size the photo is *stored* in (an EXIF-rotated JPEG: width and height swapped)
    is turned the way the photo was; any other size is refused naming both sizes, unless
    ``resize``, which stretches it nearest-neighbour and says so in the returned warnings.
    """
    if mask.size == image.size:
        return mask, []
    orientation = image.info.get(ORIENTATION_KEY, 1)
    if orientation in (5, 6, 7, 8) and mask.size == image.size[::-1]:
        return mask.transpose(EXIF_TRANSPOSE[orientation]), []
    if not resize:
        raise mask_size_error(mask.size, image.size, flag)
    warning = resized_mask_warning(mask.size, image.size)
    return mask.convert("L").resize(image.size, Image.NEAREST), [warning]


def fit_hole(hole: np.ndarray, width: int, height: int, resize: bool = False
             ) -> tuple[np.ndarray, list[str]]:
    """The Python API's side of :func:`align_mask`: a bool hole of another size is refused,
    or with ``resize`` stretched nearest-neighbour (with a warning)."""
    if hole.shape == (height, width):
        return hole, []
    size = (hole.shape[1], hole.shape[0])
    if not resize:
        raise mask_size_error(size, (width, height))
    import cv2

    stretched = cv2.resize(hole.astype(np.uint8), (width, height),
                           interpolation=cv2.INTER_NEAREST).astype(bool)
    return stretched, [resized_mask_warning(size, (width, height))]


# A black-and-white photo saved as an RGB JPEG decodes with channels a level or two apart.
GREY_TOLERANCE = 2


def is_grey(rgb: np.ndarray) -> bool:
    """True for a greyscale picture: the three channels at most :data:`GREY_TOLERANCE`
    levels apart in every pixel."""
    spread = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
    return bool(spread.max(initial=0) <= GREY_TOLERANCE)


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """N×3 (or H×W×3) uint8 RGB as its luminance (ITU-R 601, as PIL's "L"), in all three."""
    luma = np.rint(rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    return np.repeat(np.clip(luma, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def check_output_path(path: Path) -> str:
    """The PIL format for an output file name, or a clear error for an unknown suffix."""
    fmt = OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UserError(f"output '{path}' must end in .png (lossless: the known pixels stay "
                        "exact), .jpg/.jpeg or .webp")
    return fmt


def write_image(image: Image.Image, target, fmt: str, quality: int = 95) -> None:
    """Write ``image`` to ``target`` (a path or a binary file) as PIL format ``fmt`` (PNG,
    JPEG or WEBP; ``quality`` 1-100 for the lossy two). JPEG has no alpha, so an RGBA result
    is flattened onto white there."""
    if fmt == "PNG":
        image.save(target, format="PNG")
        return
    if fmt == "JPEG" and image.mode in ("RGBA", "LA", "P"):
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.convert("RGBA").getchannel("A"))
        image = flat
    image.save(target, format=fmt, quality=int(quality))


def save_image(image: Image.Image, path: Path, quality: int = 95) -> None:
    """Write ``image`` as PNG, JPEG or WebP by ``path``'s suffix (see :func:`write_image`)."""
    write_image(image, path, check_output_path(path), quality)
