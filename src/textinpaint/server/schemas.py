"""The API's answers as pydantic models: what ``/openapi.json`` (and ``/docs``) shows.

Each field's description is the documentation; the README's API section lists the same
fields, and a test keeps the two in step.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class AttentionEntry(BaseModel):
    """One caption word's attention, when ``return_attention`` was asked for."""

    word: str = Field(description="the caption word (as the model tokenised it)")
    weight: float | None = Field(
        description="the word-demand module's weight for the word; null if the model has none")
    map: str = Field(description="base64 greyscale PNG at the image's size: where the model "
                                 "attended to the word; 255 stands for map_scale")


class InpaintAnswer(BaseModel):
    """``POST /api/v1/inpaint``'s JSON answer (ask ``Accept: image/png`` for raw bytes)."""

    image: str = Field(description="the filled image, base64 PNG, at the input's size")
    model: str = Field(description="the model that ran (NAME, NAME+flip, NAME+seam, "
                                   "NAME+flip+seam, +guideS for a guidance scale S "
                                   "other than 1)")
    time_ms: float = Field(description="inference time in milliseconds")
    width: int = Field(description="the result's width in pixels (the input's)")
    height: int = Field(description="the result's height in pixels (the input's)")
    flip_ensemble: bool = Field(description="whether the flip self-ensemble ran")
    seam: bool = Field(default=False, description="whether the seam correction ran")
    guidance_scale: float = Field(default=1.0, description="how much the caption counted "
                                                           "(1 = the model as trained)")
    warnings: list[str] = Field(
        default_factory=list,
        description="what the request lost: caption words the model does not know, a "
                    "caption with no readable word, a mask stretched by resize_mask")
    attention: list[AttentionEntry] | None = Field(
        default=None, description="per caption word, only with return_attention")
    map_scale: float | None = Field(
        default=None, description="the attention value a map's 255 stands for (all words "
                                  "share it), only with return_attention")


class LimitsInfo(BaseModel):
    """What one request may carry."""

    max_bytes: int = Field(description="largest image or mask file, in bytes")
    max_pixels: int = Field(description="largest image, in pixels")
    max_text_chars: int = Field(description="longest caption, in characters")


class ModelInfo(BaseModel):
    """``GET /api/v1/model``: the loaded model and the request limits."""

    name: str
    resolution: int = Field(description="the side of the square the network fills")
    uses_text: bool = Field(description="whether the model reads the caption")
    vocab_size: int
    max_caption_words: int = Field(description="words past this many are refused")
    parameters: int
    flip_ensemble: bool = Field(description="the server's default for flip_ensemble")
    seam: bool = Field(default=False, description="the server's default for seam")
    guidance_scale: float = Field(default=1.0,
                                  description="the server's default for guidance_scale")
    examples: list[str] = Field(description="example captions from the model folder")
    limits: LimitsInfo
    version: str = Field(description="the textinpaint version")


class Health(BaseModel):
    """``GET /healthz``."""

    status: str
    model: str


class ErrorAnswer(BaseModel):
    """Every refused request: one sentence that says what to fix."""

    error: str


ERRORS = {status: {"model": ErrorAnswer, "description": text} for status, text in (
    (400, "a bad request (unreadable file, wrong mask size, empty mask, bad field)"),
    (413, "a file or image over the server's limits"),
    (415, "neither multipart/form-data nor application/json"))}
