"""Bad inputs against the HTTP API: every one refused with a status and one sentence, and
the server still serves afterwards. The costly shapes (thin images, many holes, deep JSON,
foreign Host/Origin, slow clients) are the ones issue 29 found."""

from __future__ import annotations

import asyncio
import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from bad_inputs import assert_api_error, assert_user_error
from helpers_inference import box_mask, noise_image, png_bytes
from textinpaint.server.app import create_app
from textinpaint.server.inputs import ApiError, read_body
from textinpaint.work import WorkLimits

W, H = 64, 48
IMAGE, HOLE = noise_image(W, H), box_mask(W, H, (20, 10, 40, 30))
HOSTS = ["127.0.0.1", "localhost"]


@pytest.fixture(scope="module")
def app(tiny_pipe):
    return create_app(tiny_pipe, max_bytes=400_000, max_pixels=2000 * 2000,
                      work=WorkLimits(max_window_side=512, max_windows=8, max_aspect=32),
                      max_memory_mb=50, queue_seconds=0.2, allowed_hosts=HOSTS,
                      allowed_origins=["http://allowed.example:3000"])


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app, base_url="http://127.0.0.1:8080")


def form(image=None, mask=None, text="a red bird"):
    return {"files": {"image": ("i.png", png_bytes(IMAGE) if image is None else image),
                      "mask": ("m.png", png_bytes(HOLE) if mask is None else mask)},
            "data": {"text": text}}


def still_serves(client):
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/v1/inpaint", **form()).status_code == 200


def flat(width, height):
    """A grey image: big in pixels, small as a file."""
    return png_bytes(np.full((height, width, 3), 128, np.uint8))


def full(width, height):
    return png_bytes(np.ones((height, width), bool))


def specks(width, height, step):
    hole = np.zeros((height, width), bool)
    hole[step // 2::step, step // 2::step] = True
    return hole


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def exif_rotated_png(width, height) -> bytes:
    """A JPEG stored width×height whose EXIF says: turn it 90° (so it is height×width)."""
    image = Image.fromarray(noise_image(width, height))
    exif = image.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


REFUSED = {
    # name: (request kwargs, status, pattern)
    "thin 1x12000": (form(flat(1, 12000), full(1, 12000)), 413,
                     r"1×12000.*limit is 32:1"),
    "thin 12000x1": (form(flat(12000, 1), full(12000, 1)), 413,
                     r"12000×1.*crop or pad"),
    "window too big": (form(flat(1000, 800), full(1000, 800)), 413,
                       r"1000-pixel fill window; the limit is 512"),
    "memory estimate": (form(flat(1990, 1990),
                             png_bytes(box_mask(1990, 1990, (5, 5, 9, 9)))), 413,
                        r"1990×1990.*MB; the server allows 50 MB"),
    "pixels from header": (form(flat(2100, 2100),
                                full(2100, 2100)), 413, r"2100×2100 pixels.*limit"),
    "mask size from header": (form(mask=full(10, 10)), 400, r"mask is 10×10.*64×48"),
    "mask not an image": (form(mask=b"GIF89a not really"), 400, r"mask file is not a readable"),
    "image not an image": (form(image=b"\x89PNG\r\n\x1a\n broken"), 400,
                           r"image file is not a readable"),
    "empty mask": (form(mask=png_bytes(np.zeros((H, W), bool))), 400, r"no white"),
    "text not a string in JSON": ({"json": {"image": b64(png_bytes(IMAGE)),
                                            "mask": b64(png_bytes(HOLE)), "text": 5}}, 400,
                                  r"field 'text' must be a string"),
    "empty image in JSON": ({"json": {"image": "", "mask": b64(png_bytes(HOLE)), "text": ""}},
                            400, r"image file is empty"),
    "deep JSON 100000": ({"content": deep_json(100_000),
                          "headers": {"content-type": "application/json"}}, 400,
                         r"nested too deeply|not valid JSON"),
    "deep JSON object": ({"content": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
                          "headers": {"content-type": "application/json"}}, 400,
                         r"nested too deeply|not valid JSON"),
    "JSON not UTF-8": ({"content": b'{"image": "\xff\xfe"}',
                        "headers": {"content-type": "application/json"}}, 400, r"not valid JSON"),
    "JSON base64 garbage": ({"json": {"image": "%%%", "mask": "%%%", "text": "x"}}, 400,
                            r"'image' is not valid base64"),
    "foreign Host": ({**form(), "headers": {"host": "evil.example"}}, 400,
                     r"Host 'evil.example' is not served"),
    "foreign Host with port": ({**form(), "headers": {"host": "evil.example:8080"}}, 400,
                               r"evil.example:8080"),
    "rebinding name": ({"method": "GET", "url": "/api/v1/model",
                        "headers": {"host": "127.0.0.1.nip.io"}}, 400, r"not served"),
    "cross-origin form": ({**form(), "headers": {"origin": "http://evil.example"}}, 403,
                          r"cross-origin POST from 'http://evil.example'"),
    "origin null": ({**form(), "headers": {"origin": "null"}}, 403, r"from 'null'"),
    "other port same host": ({**form(), "headers": {"origin": "http://127.0.0.1:9999"}}, 403,
                             r"cross-origin"),
    "cross-site without Origin": ({**form(), "headers": {"sec-fetch-site": "cross-site"}}, 403,
                                  r"cross-site"),
    "wrong content type": ({"content": b"x", "headers": {"content-type": "text/xml"}}, 415,
                           r"multipart/form-data"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_with_one_line_and_still_serves(client, name):
    kwargs, status, pattern = REFUSED[name]
    kwargs = dict(kwargs)
    method, url = kwargs.pop("method", "POST"), kwargs.pop("url", "/api/v1/inpaint")
    assert_api_error(client.request(method, url, **kwargs), status, pattern)
    still_serves(client)


def test_many_small_holes_are_merged_into_few_windows(client, tiny_pipe):
    hole = specks(301, 301, 7)  # 1,849 one-pixel holes, as in issue 29
    assert hole.sum() == 1849
    image = noise_image(301, 301)
    r = client.post("/api/v1/inpaint", **form(png_bytes(image), png_bytes(hole)))
    assert r.status_code == 200, r.text
    from textinpaint.work import plan_bounded

    assert len(plan_bounded(hole, tiny_pipe.resolution, WorkLimits(max_windows=8))) <= 8
    result = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["image"]))))
    np.testing.assert_array_equal(result[~hole], image[~hole])
    still_serves(client)


def test_same_origin_and_allowed_origins_pass(client):
    for origin in ("http://127.0.0.1:8080", "http://allowed.example:3000"):
        r = client.post("/api/v1/inpaint", **form(), headers={"origin": origin})
        assert r.status_code == 200, (origin, r.text)
    # reading is never refused for its Origin (the browser keeps the answer from the page)
    assert client.get("/healthz", headers={"origin": "http://evil.example"}).status_code == 200
    assert client.get("/healthz", headers={"host": "localhost:8080"}).status_code == 200


def test_exif_rotated_image_checks_the_upright_size(client):
    # stored 40×30, upright 30×40: the header check must not refuse the upright mask
    r = client.post("/api/v1/inpaint", **form(exif_rotated_png(40, 30),
                                              png_bytes(box_mask(30, 40, (5, 5, 20, 20)))))
    assert r.status_code == 200, r.text


def test_busy_memory_budget_gives_503_with_retry_after(app, client):
    budget = app.state.budget
    assert budget.acquire(budget.total, 1)
    try:
        r = client.post("/api/v1/inpaint", **form())
        assert_api_error(r, 503, r"busy .*waiting for memory")
        assert r.headers["retry-after"]
        assert client.get("/healthz").status_code == 200  # the loop is free meanwhile
    finally:
        budget.release(budget.total)
    still_serves(client)


def test_busy_model_gives_503(app, client):
    assert app.state.lock.acquire(timeout=5)
    try:
        assert_api_error(client.post("/api/v1/inpaint", **form()), 503, r"busy")
    finally:
        app.state.lock.release()
    still_serves(client)


def test_slow_body_gets_408():
    class Trickle:  # a request whose body arrives slower than the deadline
        headers = {"content-length": "10"}

        async def stream(self):
            for _ in range(10):
                await asyncio.sleep(0.05)
                yield b"x"

    with pytest.raises(ApiError) as info:
        asyncio.run(read_body(Trickle(), 100, seconds=0.1))
    assert info.value.status == 408 and "took longer than 0.1 s" in info.value.message


@pytest.mark.parametrize("kwargs, pattern", [
    ({"max_bytes": -3080192}, r"max_bytes must be greater than 0"),
    ({"max_pixels": 0}, r"max_pixels must be greater than 0"),
    ({"max_memory_mb": -1}, r"max_memory_mb must be greater than 0"),
])
def test_nonsense_limits_are_refused_at_start(tiny_pipe, kwargs, pattern):
    assert_user_error(lambda: create_app(tiny_pipe, **kwargs), pattern)
