"""Reading and checking one ``POST /api/v1/inpaint`` request, multipart or JSON.

Every way a request can be wrong ends in :class:`ApiError` with a status and one sentence
that says what to fix; nothing here touches the model.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass, field

import anyio
import numpy as np
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request

from ..data.text import tokenize
from ..errors import UserError
from ..images import ImageTooLarge, align_mask, mask_size_error, open_image, to_hole
from ..model_folder import check_guidance_scale
from ..windows import HD_STRATEGIES
from ..work import WorkLimits, check_shape

ORIENTATION = 0x0112  # the EXIF tag open_image turns images upright by
TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}


class ApiError(Exception):
    """A request the server refuses: HTTP ``status`` and a message for the client."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@dataclass
class Limits:
    """What one request may carry. ``max_bytes`` applies to each file, ``max_pixels`` to each
    image, ``max_text_chars`` to the caption; ``max_words`` is the model's caption length;
    ``work`` bounds the fill itself (see :mod:`textinpaint.work`); ``body_seconds`` is how
    long the body may take to arrive (a slow client holds a connection no longer)."""

    max_bytes: int = 10 * 2**20
    max_pixels: int = 4096 * 4096
    max_text_chars: int = 300
    max_words: int | None = None
    work: WorkLimits = field(default_factory=WorkLimits)
    body_seconds: float = 60.0

    @property
    def max_body(self) -> int:
        # two files, base64 (4/3) in JSON, plus the fields around them
        return 3 * self.max_bytes + 2**16


@dataclass
class InpaintInputs:
    """A checked request: decoded image, hole mask (same size, not empty), caption, options
    (``flip_ensemble``, ``seam``, ``guidance_scale`` None = the server's setting)."""

    image: Image.Image
    hole: np.ndarray
    text: str
    return_attention: bool
    flip_ensemble: bool | None = None
    hd_strategy: str = "crop"
    warnings: list[str] = field(default_factory=list)  # e.g. "the mask was stretched"
    seam: bool | None = None
    guidance_scale: float | None = None


async def read_body(request: Request, limit: int, seconds: float | None = None) -> bytes:
    """The request body, refusing (413) as soon as it grows past ``limit`` bytes and (408)
    if it has not all arrived after ``seconds``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body is {int(declared)} bytes, more than the limit of "
                            f"{limit} bytes; send smaller images")
    chunks, total = [], 0
    try:
        with anyio.fail_after(seconds):
            async for chunk in request.stream():
                total += len(chunk)
                if total > limit:
                    raise ApiError(413, f"request body is larger than the limit of {limit} "
                                        "bytes; send smaller images")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, f"the request body took longer than {seconds:g} s to arrive; "
                            "send it faster or send smaller images") from None
    return b"".join(chunks)


def _b64(value, name: str) -> bytes:
    if not isinstance(value, str):
        raise ApiError(400, f"field '{name}' must be a base64 string")
    if value.startswith("data:"):  # a data URL straight from a browser
        value = value.partition(",")[2]
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"field '{name}' is not valid base64") from None


# The request's fields besides the two files.
OPTION_FIELDS = ("text", "prompt", "return_attention", "flip_ensemble", "seam", "resize_mask",
                 "hd_strategy", "guidance_scale")


def _flag(value, name: str) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise ApiError(400, f"field '{name}' must be true or false, not {value!r}")


async def _fields_from_multipart(request: Request, body: bytes) -> dict:
    async def replay():  # the body was already read (under the size limit); hand it over again
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=4, max_fields=16)
    except Exception as exc:  # malformed multipart: starlette raises several kinds
        raise ApiError(400, f"the multipart form could not be read ({exc})") from None
    fields = {}
    for key in ("image", "mask"):
        value = form.get(key)
        if value is None:
            continue
        if not isinstance(value, UploadFile):
            raise ApiError(400, f"field '{key}' must be a file upload")
        fields[key] = await value.read()
    for key in OPTION_FIELDS:
        value = form.get(key)
        if isinstance(value, UploadFile):
            value = (await value.read()).decode("utf-8", "replace")
        if value is not None:
            fields[key] = value
    return fields


def _fields_from_json(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not valid JSON") from None
    except RecursionError:  # e.g. 100,000 nested brackets
        raise ApiError(400, "the JSON body is nested too deeply; send a flat object with "
                            "image, mask and text") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the JSON body must be an object with image, mask and text")
    fields = {k: data[k] for k in OPTION_FIELDS if k in data}
    for key in ("image", "mask"):
        if key in data:
            fields[key] = _b64(data[key], key)
    return fields


def _decode(data: bytes, name: str, limits: Limits) -> Image.Image:
    if len(data) > limits.max_bytes:
        raise ApiError(413, f"the {name} file is {len(data)} bytes, more than the limit of "
                            f"{limits.max_bytes} bytes")
    if not data:
        raise ApiError(400, f"the {name} file is empty")
    try:
        return open_image(data, what=f"the {name} file", max_pixels=limits.max_pixels)
    except ImageTooLarge as exc:
        raise ApiError(413, str(exc)) from None
    except UserError as exc:
        raise ApiError(400, str(exc)) from None


def _check_text(text, limits: Limits) -> str:
    if not isinstance(text, str):
        raise ApiError(400, "field 'text' must be a string")
    if len(text) > limits.max_text_chars:
        raise ApiError(400, f"text is {len(text)} characters long; the limit is "
                            f"{limits.max_text_chars}: shorten the caption")
    words = len(tokenize(text))
    if limits.max_words is not None and words > limits.max_words:
        raise ApiError(400, f"text has {words} words but the model reads at most "
                            f"{limits.max_words}: shorten the caption")
    return text


async def read_fields(request: Request, limits: Limits) -> dict:
    """The request's fields (files as bytes), read under the size and time limits; nothing
    is decoded yet. JSON is parsed in a worker thread: a large body would stall the loop."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("multipart/form-data", "application/json"):
        raise ApiError(415, "send multipart/form-data (files image, mask; field text) or "
                            "application/json (base64 image, mask; text)")
    body = await read_body(request, limits.max_body, limits.body_seconds)
    if kind == "application/json":
        fields = await run_in_threadpool(_fields_from_json, body)
    else:
        fields = await _fields_from_multipart(request, body)
    for key in ("image", "mask"):
        if key not in fields:
            raise ApiError(400, f"missing field '{key}'")
    return fields


def image_size(fields: dict, limits: Limits) -> tuple[int, int]:
    """(width, height) of the image from its file header alone, after the checks that need
    no decoding: file sizes, pixel count, mask size, shape (see :mod:`textinpaint.work`)."""
    sizes = []
    for name in ("image", "mask"):
        data = fields[name]
        if len(data) > limits.max_bytes:
            raise ApiError(413, f"the {name} file is {len(data)} bytes, more than the limit "
                                f"of {limits.max_bytes} bytes")
        if not data:
            raise ApiError(400, f"the {name} file is empty")
        try:
            with Image.open(io.BytesIO(data)) as im:
                size = im.size
                if name == "image":
                    stored = size
                if im.getexif().get(ORIENTATION) in (5, 6, 7, 8):  # turned upright: w <-> h
                    size = size[::-1]
                sizes.append(size)
        except Exception:  # unreadable: decoding says so in its own words
            _decode(data, name, limits)
            raise
    (width, height), mask = sizes
    if width * height > limits.max_pixels:
        raise ApiError(413, f"the image file has {width}×{height} pixels, more than the limit "
                            f"of {limits.max_pixels} pixels; downscale it first")
    # The displayed size, the EXIF-stored size (turned later) or resize_mask=true pass here;
    # prepare_inputs applies the rule (images.align_mask) once the files are decoded.
    if mask not in ((width, height), stored) and not _flag(fields.get("resize_mask"),
                                                            "resize_mask"):
        raise ApiError(400, str(mask_size_error(mask, (width, height), "resize_mask=true")))
    try:
        check_shape(width, height, limits.work, "the image")
    except UserError as exc:
        raise ApiError(413, str(exc)) from None
    return width, height


def prepare_inputs(fields: dict, limits: Limits) -> InpaintInputs:
    """Check the fields and decode the files (CPU work: call it from a worker thread)."""
    text = fields.get("text", fields.get("prompt"))
    if text is None:
        raise ApiError(400, "missing field 'text' (send an empty string for no caption)")
    text = _check_text(text, limits)
    return_attention = _flag(fields.get("return_attention"), "return_attention")
    flip = fields.get("flip_ensemble")
    flip_ensemble = None if flip is None else _flag(flip, "flip_ensemble")
    seam = None if fields.get("seam") is None else _flag(fields["seam"], "seam")
    resize_mask = _flag(fields.get("resize_mask"), "resize_mask")
    guidance_scale = _guidance(fields.get("guidance_scale"))
    hd_strategy = fields.get("hd_strategy") or "crop"
    if hd_strategy not in HD_STRATEGIES:
        raise ApiError(400, f"field 'hd_strategy' must be one of {', '.join(HD_STRATEGIES)}, "
                            f"not {hd_strategy!r}")
    image = _decode(fields["image"], "image", limits)
    mask = _decode(fields["mask"], "mask", limits)
    try:  # the CLI's rule: displayed size, EXIF-stored size, or resize_mask=true
        mask, notes = align_mask(mask, image, resize_mask, flag="resize_mask=true")
    except UserError as exc:
        raise ApiError(400, str(exc)) from None
    hole = to_hole(mask)
    if not hole.any():
        raise ApiError(400, "the mask has no white (hole) pixels; paint the region to fill "
                            "in white")
    return InpaintInputs(image, hole, text, return_attention, flip_ensemble, hd_strategy, notes,
                         seam, guidance_scale)


def _guidance(value) -> float | None:
    """The ``guidance_scale`` field (a number, or a form's text of one); None if absent."""
    if value is None or value == "":
        return None
    try:
        return check_guidance_scale(value, "field 'guidance_scale'")
    except UserError as exc:
        raise ApiError(400, str(exc)) from None


async def parse_inpaint_request(request: Request, limits: Limits) -> InpaintInputs:
    """Read, decode and check an inpainting request (see :mod:`textinpaint.server.app`)."""
    fields = await read_fields(request, limits)
    image_size(fields, limits)
    return await run_in_threadpool(prepare_inputs, fields, limits)
