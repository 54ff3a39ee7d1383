"""The HTTP API and the web painter, as one FastAPI app.

Routes:

* ``POST /api/v1/inpaint`` — multipart (files ``image``, ``mask``; fields ``text``,
  ``return_attention``, ``flip_ensemble``, ``seam``, ``guidance_scale``) or JSON (base64
  ``image``, ``mask``, data URLs welcome; the same fields); ``prompt`` is accepted in place of
  ``text``; ``flip_ensemble``, ``seam`` and ``guidance_scale`` left out = the server's
  ``--flip-ensemble``, ``--seam`` and ``--guidance-scale``.
  Mask: white (> 127) = hole, same size as the image. Answers
  ``{"image": base64 PNG, "model", "time_ms", "width", "height", "flip_ensemble", "seam",
  "guidance_scale"}``
  and,
  when asked,
  ``"attention": [{"word", "weight", "map": base64 greyscale PNG}]`` with ``"map_scale"``
  (the attention value that the PNG's 255 stands for; all words share it); ``"warnings"``
  lists what the request lost (unknown caption words, a stretched mask). With
  ``Accept: image/png`` (or ``image/jpeg``, ``image/webp``) the answer is the image's bytes,
  the rest in ``X-Textinpaint-*`` headers. The fields are :mod:`.schemas`' models.
* ``GET /api/v1/model`` — what the loaded model is and the request limits.
* ``GET /healthz`` — liveness.
* ``GET /`` — the painter (``static/index.html`` with ``app.js``/``app.css``, no CDN).
* ``GET /docs``, ``/redoc``, ``/openapi.json`` — the API's documentation, served offline.

Every refused request gets a 4xx and ``{"error": "..."}``; the server keeps serving. The
network runs in a worker thread behind a lock, so concurrent requests queue up safely.

Bounded cost: decoding, checking and planning run in worker threads (the event loop only
moves bytes, so ``/healthz`` answers while big images are prepared); each request reserves
its worst-case memory from a server-wide budget before decoding (:mod:`.budget`); the fill's
windows are bounded (:mod:`textinpaint.work`, 413 beyond); a request that cannot get memory
or the network within ``queue_seconds`` gets 503 with ``Retry-After``. Host and Origin are
checked by :mod:`.guard` when ``allowed_hosts`` is given.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import threading
import time
import warnings
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..caption_check import CaptionWarning
from ..errors import UserError
from ..images import write_image
from ..model_folder import GUIDANCE_MAX
from ..pipeline import InpaintPipeline
from ..windows import HD_STRATEGIES
from ..work import MB, WorkLimits, plan_bounded, worst_case_bytes
from .accept import IMAGE_TYPES, wanted_image_type
from .budget import MemoryBudget
from .docs import mount_docs
from .guard import HostOriginGuard
from .inputs import ApiError, InpaintInputs, Limits, image_size, prepare_inputs, read_fields
from .schemas import ERRORS, Health, InpaintAnswer, ModelInfo

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
# The page loads nothing from elsewhere; the policy makes the browser enforce that.
PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'")
EXAMPLE_KEYS = ("examples", "example_captions", "sample_captions")


def png_b64(image: Image.Image) -> str:
    """A PIL image as base64-encoded PNG bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _attention_json(entries: list[dict]) -> tuple[list[dict], float]:
    scale = max((float(e["map"].max()) for e in entries), default=0.0)
    out = []
    for e in entries:
        grey = np.zeros(e["map"].shape, np.uint8) if scale <= 0 else \
            np.clip(np.rint(e["map"] / scale * 255), 0, 255).astype(np.uint8)
        weight = e["weight"]
        out.append({"word": e["word"], "weight": None if weight != weight else weight,
                    "map": png_b64(Image.fromarray(grey))})
    return out, scale


def _parameter_count(model) -> int:
    parts = [model.generator]
    if model.uses_text:
        parts.append(model.damsm.text_encoder)
    return int(sum(p.numel() for m in parts for p in m.parameters()))


def _model_info(pipe: InpaintPipeline, limits: Limits) -> dict:
    model, config = pipe.model, pipe.model.config
    examples = next((config[k] for k in EXAMPLE_KEYS if isinstance(config.get(k), list)), [])
    return {"name": model.name, "resolution": model.resolution, "uses_text": model.uses_text,
            "vocab_size": len(model.vocab), "max_caption_words": model.max_len,
            "parameters": _parameter_count(model), "flip_ensemble": model.flip_ensemble,
            "seam": model.seam is not None, "guidance_scale": model.guidance_scale,
            "examples": [str(e) for e in examples][:20],
            "limits": {"max_bytes": limits.max_bytes, "max_pixels": limits.max_pixels,
                       "max_text_chars": limits.max_text_chars,
                       "max_windows": limits.work.max_windows,
                       "max_window_side": limits.work.max_window_side,
                       "max_aspect": limits.work.max_aspect},
            "version": __version__}


def _image_response(image: Image.Image, media_type: str, model, elapsed: float,
                    said: list[str]) -> Response:
    """The result as raw image bytes (the client's ``Accept``), the rest in headers."""
    buffer = io.BytesIO()
    write_image(image, buffer, IMAGE_TYPES[media_type])  # the CLI's writer: one JPEG rule
    headers = {"X-Textinpaint-Model": model.name,
               "X-Textinpaint-Time-Ms": f"{elapsed:.1f}",
               "X-Textinpaint-Flip-Ensemble": str(model.flip_ensemble).lower(),
               "X-Textinpaint-Seam": str(model.seam is not None).lower(),
               "X-Textinpaint-Guidance-Scale": f"{model.guidance_scale:g}",
               # JSON, ASCII-escaped: a header carries no raw non-ASCII text
               "X-Textinpaint-Warnings": json.dumps(said)}
    return Response(buffer.getvalue(), media_type=media_type, headers=headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# The work one request may cause by default: a 4096-pixel window is the largest a 4096²
# image needs; 64 windows are 8 batches of the network (1,849 specks, one window each, took
# 30 s on a CPU: 64 would take about 1 s by proportion).
DEFAULT_WORK = WorkLimits(max_window_side=4096, max_windows=64, max_aspect=32)
BUSY = {"Retry-After": "5"}


def _busy(what: str, seconds: float) -> ApiError:
    return ApiError(503, f"the server is busy ({what} for {seconds:g} s); retry in a few "
                         "seconds", BUSY)


def create_app(pipeline: InpaintPipeline | str | Path, *, device: str = "cpu",
               flip_ensemble: bool = False, seam: bool | None = None,
               guidance_scale: float = 1.0, max_bytes: int = 10 * 2**20,
               max_pixels: int = 4096 * 4096, max_text_chars: int = 300,
               work: WorkLimits = DEFAULT_WORK, max_memory_mb: float = 1200,
               queue_seconds: float = 30, body_seconds: float = 60,
               allowed_hosts: list[str] | None = None,
               allowed_origins: list[str] = ()) -> FastAPI:
    """The app serving ``pipeline`` (or the model folder at that path, loaded on ``device``,
    flip-ensembled with ``flip_ensemble``, seam-corrected with ``seam``, None = as the model
    folder says; ``guidance_scale``: how much the caption counts, 1 = as trained).

    ``max_bytes`` limits each uploaded file, ``max_pixels`` each image, ``max_text_chars``
    the caption (captions with more words than the model reads are refused too); ``work``
    the fill of one image; ``max_memory_mb`` the estimated memory of all requests in flight
    together (one request alone: 413 beyond it); ``queue_seconds`` how long a request waits
    for memory or the network before a 503; ``body_seconds`` how long its body may take to
    arrive (408). ``allowed_hosts`` (None: no check) and ``allowed_origins``: see
    :class:`~textinpaint.server.guard.HostOriginGuard`.
    """
    pipe = pipeline if isinstance(pipeline, InpaintPipeline) else \
        InpaintPipeline.from_pretrained(pipeline, device=device, flip_ensemble=flip_ensemble,
                                        seam=seam, guidance_scale=guidance_scale)
    for name, value in (("max_bytes", max_bytes), ("max_pixels", max_pixels),
                        ("max_text_chars", max_text_chars), ("max_memory_mb", max_memory_mb)):
        if value <= 0:  # a negative limit would refuse every request with a nonsense number
            raise UserError(f"{name} must be greater than 0, got {value}")
    work = dataclasses.replace(work, max_memory_mb=max_memory_mb)
    pipe = pipe.with_limits(work)  # the network plans exactly what was checked
    limits = Limits(max_bytes, max_pixels, max_text_chars,
                    pipe.model.max_len if pipe.model.uses_text else None, work, body_seconds)
    budget = MemoryBudget(int(max_memory_mb * MB))
    lock = threading.Lock()
    info = _model_info(pipe, limits)
    app = FastAPI(title="textinpaint", version=__version__, docs_url=None, redoc_url=None,
                  description="Text-guided image inpainting: API and web painter.")
    app.state.budget, app.state.lock = budget, lock  # for monitoring and tests
    mount_docs(app)  # /docs and /redoc from local assets: they work offline

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return _error(400, "; ".join(str(e.get("msg")) for e in exc.errors()) or "bad request")

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        log.exception("request failed")
        return _error(500, f"internal error ({type(exc).__name__}); see the server log")

    def infer(inputs: InpaintInputs, image_type: str | None = None) -> dict | Response:
        # one forward pass at a time: torch threads are shared anyway
        if not lock.acquire(timeout=queue_seconds):
            raise _busy("every request waits for the one being filled", queue_seconds)
        try:
            start = time.perf_counter()
            try:
                # The caption's warnings go to the client (out.warnings), not to the log;
                # under the lock no other request is in the pipeline meanwhile.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", CaptionWarning)
                    out = pipe(prompt=inputs.text, image=inputs.image, mask_image=inputs.hole,
                               return_attention=inputs.return_attention,
                               flip_ensemble=inputs.flip_ensemble, seam=inputs.seam,
                               guidance_scale=inputs.guidance_scale,
                               hd_strategy=inputs.hd_strategy)
            except UserError as exc:  # e.g. an image mode the pipeline cannot convert
                raise ApiError(400, str(exc)) from None
            elapsed = (time.perf_counter() - start) * 1000
        finally:
            lock.release()
        result = out.images[0]
        # its name says what ran
        ran = pipe.model_for(inputs.flip_ensemble, inputs.seam, inputs.guidance_scale)
        said = inputs.warnings + out.warnings[0]
        if image_type is not None:
            return _image_response(result, image_type, ran, elapsed, said)
        answer = {"image": png_b64(result), "model": ran.name, "time_ms": round(elapsed, 1),
                  "width": result.width, "height": result.height,
                  "flip_ensemble": ran.flip_ensemble, "seam": ran.seam is not None,
                  "guidance_scale": ran.guidance_scale, "warnings": said}
        if inputs.return_attention:
            answer["attention"], answer["map_scale"] = _attention_json(out.attention[0])
        return answer

    @app.post("/api/v1/inpaint", summary="Fill the white part of the mask, guided by the text",
              response_model=InpaintAnswer, response_model_exclude_unset=True,
              responses={**ERRORS, 200: {"content": {
                  kind: {"schema": {"type": "string", "format": "binary"}}
                  for kind in IMAGE_TYPES}, "description": "JSON, or with Accept: image/png "
                  "(image/jpeg, image/webp) the image's bytes"}},
              openapi_extra={"requestBody": {"content": {
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "image": {"type": "string", "format": "binary"},
                      "mask": {"type": "string", "format": "binary"},
                      "text": {"type": "string"},
                      "return_attention": {"type": "boolean"},
                      "flip_ensemble": {"type": "boolean"},
                      "seam": {"type": "boolean"},
                      "guidance_scale": {"type": "number", "minimum": 0,
                                         "maximum": GUIDANCE_MAX},
                      "resize_mask": {"type": "boolean"},
                      "hd_strategy": {"type": "string", "enum": list(HD_STRATEGIES)}},
                      "required": ["image", "mask", "text"]}},
                  "application/json": {"schema": {"type": "object", "properties": {
                      "image": {"type": "string", "description": "base64 image file"},
                      "mask": {"type": "string", "description": "base64 mask file"},
                      "text": {"type": "string"},
                      "return_attention": {"type": "boolean"},
                      "flip_ensemble": {"type": "boolean"},
                      "seam": {"type": "boolean"},
                      "guidance_scale": {"type": "number", "minimum": 0,
                                         "maximum": GUIDANCE_MAX},
                      "resize_mask": {"type": "boolean"},
                      "hd_strategy": {"type": "string", "enum": list(HD_STRATEGIES)}},
                      "required": ["image", "mask", "text"]}}}}})
    async def inpaint(request: Request):
        image_type = wanted_image_type(request.headers.get("accept"))
        # The body and its parsed copy count against the budget while they are held.
        declared = request.headers.get("content-length", "")
        held = 2 * min(int(declared) if declared.isdigit() else limits.max_body,
                       limits.max_body)
        await run_in_threadpool(reserve, held)
        try:
            fields = await read_fields(request, limits)
            return await run_in_threadpool(handle, fields, held, image_type)
        finally:
            budget.release(held)

    def reserve(amount: int) -> None:
        if not budget.acquire(amount, queue_seconds):
            raise _busy("waiting for memory", queue_seconds)

    def handle(fields: dict, held: int, image_type: str | None) -> dict | Response:
        """Decode, check and fill one request's fields, in a worker thread."""
        width, height = image_size(fields, limits)
        need = worst_case_bytes(width, height, work)
        if need > budget.total:
            raise ApiError(413, f"an image of {width}×{height} pixels may need about "
                                f"{need / MB:.0f} MB; the server allows {budget.total / MB:.0f}"
                                " MB: downscale it")
        need = max(min(need, budget.total - held), 0)  # the body is counted already
        reserve(need)
        try:
            inputs = prepare_inputs(fields, limits)
            del fields  # the decoded pixels replace the file bytes
            try:  # planned here, outside the lock: a refusal costs no one else any time
                plan_bounded(inputs.hole, pipe.resolution, work)
            except UserError as exc:
                raise ApiError(413, str(exc)) from None
            return infer(inputs, image_type)
        finally:
            budget.release(need)

    @app.get("/api/v1/model", summary="The loaded model and the request limits",
             response_model=ModelInfo)
    async def model_info():
        return info

    @app.get("/healthz", summary="Liveness check", response_model=Health)
    async def healthz():
        return {"status": "ok", "model": pipe.name}

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": PAGE_CSP})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if allowed_hosts is not None or allowed_origins:
        app.add_middleware(HostOriginGuard, allowed_hosts=allowed_hosts,
                           allowed_origins=list(allowed_origins))
    return app
