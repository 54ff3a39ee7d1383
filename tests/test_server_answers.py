"""What the API answers (issue 28): documented response models, offline /docs, raw image
bytes for ``Accept: image/*``, warnings, and the CLI's mask-size rule."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from helpers_inference import box_mask, decode_png, noise_image, png_bytes
from textinpaint.server.accept import wanted_image_type
from textinpaint.server.app import create_app

W, H = 64, 48
IMAGE = noise_image(W, H)
HOLE = box_mask(W, H, (20, 10, 40, 30))


@pytest.fixture(scope="module")
def client(tiny_pipe):
    return TestClient(create_app(tiny_pipe))


def post(client, mask=HOLE, headers=None, **data):
    files = {"image": ("i.png", png_bytes(IMAGE), "image/png"),
             "mask": ("m.png", png_bytes(mask), "image/png")}
    return client.post("/api/v1/inpaint", files=files, data={"text": "a red circle", **data},
                       headers=headers or {})


def test_the_answer_schema_is_a_real_model(client):
    spec = client.get("/openapi.json").json()
    ok = spec["paths"]["/api/v1/inpaint"]["post"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/InpaintAnswer"}
    assert {"image/png", "image/jpeg", "image/webp"} <= set(ok)
    fields = spec["components"]["schemas"]["InpaintAnswer"]["properties"]
    assert {"image", "model", "time_ms", "width", "height", "flip_ensemble", "warnings",
            "attention", "map_scale"} <= set(fields)
    assert all(f.get("description") for f in fields.values())
    model = spec["paths"]["/api/v1/model"]["get"]["responses"]["200"]["content"]
    assert model["application/json"]["schema"] == {"$ref": "#/components/schemas/ModelInfo"}
    errors = spec["paths"]["/api/v1/inpaint"]["post"]["responses"]
    assert errors["400"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorAnswer")


def test_docs_and_redoc_load_nothing_from_elsewhere(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", page.text), path
        for asset in re.findall(r"(?:src|href)=\"(/docs-assets/[^\"]+)\"", page.text):
            assert client.get(asset).status_code == 200, asset
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize("accept, kind", [("image/png", "PNG"), ("image/jpeg", "JPEG"),
                                          ("image/webp", "WEBP")])
def test_accept_image_answers_the_bytes(client, accept, kind):
    r = post(client, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == accept
    image = Image.open(io.BytesIO(r.content))
    assert image.format == kind and image.size == (W, H)
    assert r.headers["x-textinpaint-model"] and float(r.headers["x-textinpaint-time-ms"]) >= 0
    if kind == "PNG":
        np.testing.assert_array_equal(np.asarray(image)[~HOLE], IMAGE[~HOLE])


def test_accept_negotiation():
    assert wanted_image_type(None) is None
    assert wanted_image_type("*/*") is None
    assert wanted_image_type("application/json, image/png") is None
    assert wanted_image_type("image/png") == "image/png"
    assert wanted_image_type("application/json;q=0.5, image/webp") == "image/webp"
    assert wanted_image_type("image/*") == "image/png"


def test_warnings_field_names_unknown_words(client):
    body = post(client, text="a red zebra").json()
    assert any("'zebra'" in w for w in body["warnings"])
    assert post(client, text="a red circle").json()["warnings"] == []
    body = post(client, text="🐦").json()
    assert "no word the model can read" in body["warnings"][0]
    raw = post(client, text="a red zebra", headers={"Accept": "image/png"})
    assert "zebra" in json.loads(raw.headers["x-textinpaint-warnings"])[0]


def test_mask_of_another_size_is_refused_or_resized_on_request(client):
    half = box_mask(W // 2, H // 2, (10, 5, 20, 15))
    r = post(client, mask=half)
    assert r.status_code == 400
    assert "the mask is 32×24 but the image is 64×48" in r.json()["error"]
    assert "resize_mask=true" in r.json()["error"]
    r = post(client, mask=half, resize_mask="true")
    assert r.status_code == 200, r.text
    assert "stretched to the image's 64×48" in r.json()["warnings"][0]
    result = decode_png(base64.b64decode(r.json()["image"]))
    np.testing.assert_array_equal(result[~HOLE], IMAGE[~HOLE])


def test_hd_strategy_field(client):
    assert post(client, hd_strategy="resize").status_code == 200
    r = post(client, hd_strategy="tiles")
    assert r.status_code == 400 and "hd_strategy" in r.json()["error"]
