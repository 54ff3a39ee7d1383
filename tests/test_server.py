"""The HTTP API: success paths (multipart and JSON), every refusal, and that it keeps serving."""

from __future__ import annotations

import base64
import json
import re
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers_inference import box_mask, decode_png, noise_image, png_bytes
from textinpaint.server.app import STATIC, create_app

W, H = 70, 45
IMAGE = noise_image(W, H)
HOLE = box_mask(W, H, (20, 10, 40, 30))


@pytest.fixture(scope="module")
def client(tiny_pipe):
    return TestClient(create_app(tiny_pipe, max_bytes=200_000, max_pixels=300 * 300,
                                 max_text_chars=120))


def post(client, image=None, mask=None, text="a red bird", **extra):
    files = {}
    if image is not None:
        files["image"] = ("image.png", image, "image/png")
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    data = {} if text is None else {"text": text}
    data.update(extra)
    return client.post("/api/v1/inpaint", files=files, data=data)


def assert_error(response, status: int, pattern: str):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert re.search(pattern, body["error"], re.I), body["error"]


def test_multipart_success_keeps_known_pixels(client):
    r = post(client, png_bytes(IMAGE), png_bytes(HOLE), return_attention="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"]) == (W, H) and body["time_ms"] >= 0
    assert body["model"]
    result = decode_png(base64.b64decode(body["image"]))
    np.testing.assert_array_equal(result[~HOLE], IMAGE[~HOLE])
    assert [a["word"] for a in body["attention"]] == ["a", "red", "bird"]
    for entry in body["attention"]:
        assert decode_png(base64.b64decode(entry["map"])).shape == (H, W)
        assert isinstance(entry["weight"], float)
    assert body["map_scale"] > 0


def test_json_success_with_data_urls(client):
    payload = {
        "image": "data:image/png;base64," + base64.b64encode(png_bytes(IMAGE)).decode(),
        "mask": base64.b64encode(png_bytes(HOLE)).decode(),
        "text": "a bird",
    }
    r = client.post("/api/v1/inpaint", json=payload)
    assert r.status_code == 200, r.text
    assert "attention" not in r.json()
    result = decode_png(base64.b64decode(r.json()["image"]))
    np.testing.assert_array_equal(result[~HOLE], IMAGE[~HOLE])


def test_model_description(client, tiny_pipe):
    info = client.get("/api/v1/model").json()
    assert info["resolution"] == 32 and info["uses_text"] is True
    assert info["max_caption_words"] == tiny_pipe.model.max_len
    assert info["vocab_size"] == len(tiny_pipe.model.vocab) and info["parameters"] > 0
    assert isinstance(info["examples"], list)
    assert info["limits"]["max_bytes"] == 200_000
    assert info["flip_ensemble"] is False


def test_flip_ensembled_server_says_so_and_keeps_known_pixels(tiny_model_dir):
    flipped = TestClient(create_app(tiny_model_dir, flip_ensemble=True))
    assert flipped.get("/api/v1/model").json()["flip_ensemble"] is True
    image, hole = noise_image(40, 30), box_mask(40, 30, (8, 8, 30, 22))
    response = post(flipped, png_bytes(image), png_bytes(hole))
    assert response.status_code == 200 and response.json()["flip_ensemble"] is True
    assert response.json()["model"].endswith("+flip")
    result = decode_png(base64.b64decode(response.json()["image"]))
    assert (result[~hole] == image[~hole]).all()
    # a request may turn it off: then it answers as the plain server does
    off = post(flipped, png_bytes(image), png_bytes(hole), flip_ensemble="false").json()
    plain = TestClient(create_app(tiny_model_dir))
    assert off["flip_ensemble"] is False and not off["model"].endswith("+flip")
    assert off["image"] == post(plain, png_bytes(image), png_bytes(hole)).json()["image"]


def test_flip_ensemble_per_request_in_multipart_and_json(client):
    image, hole = noise_image(40, 30), box_mask(40, 30, (8, 8, 30, 22))
    plain = post(client, png_bytes(image), png_bytes(hole)).json()
    flip = post(client, png_bytes(image), png_bytes(hole), flip_ensemble="true").json()
    assert plain["flip_ensemble"] is False and flip["flip_ensemble"] is True
    assert plain["image"] != flip["image"]
    body = {"image": base64.b64encode(png_bytes(image)).decode(),
            "mask": base64.b64encode(png_bytes(hole)).decode(), "text": "a red bird",
            "flip_ensemble": True}
    assert client.post("/api/v1/inpaint", json=body).json()["image"] == flip["image"]
    assert_error(post(client, png_bytes(image), png_bytes(hole), flip_ensemble="maybe"),
                 400, "flip_ensemble")


def test_health_docs_and_page(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/openapi.json").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").status_code == 200


def test_the_page_loads_nothing_from_elsewhere():
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), path.name


NOT_AN_IMAGE = b"this is not an image"


@pytest.mark.parametrize("case", [
    "not_image", "not_mask", "size", "empty_mask", "long_text", "many_words", "no_image",
    "no_mask", "no_text", "bad_flag", "empty_file", "text_as_file_field"])
def test_bad_multipart_requests_get_400(client, case):
    image, mask, text, extra = png_bytes(IMAGE), png_bytes(HOLE), "a red bird", {}
    expected = {
        "not_image": "image file is not a readable image",
        "not_mask": "mask file is not a readable image",
        "size": r"mask is 10×10 but the image is 70×45",
        "empty_mask": "no white",
        "long_text": "121 characters.*limit is 120",
        "many_words": "words but the model reads at most",
        "no_image": "missing field 'image'",
        "no_mask": "missing field 'mask'",
        "no_text": "missing field 'text'",
        "bad_flag": "return_attention.*true or false",
        "empty_file": "image file is empty",
        "text_as_file_field": "field 'image' must be a file",
    }[case]
    if case == "not_image":
        image = NOT_AN_IMAGE
    elif case == "not_mask":
        mask = NOT_AN_IMAGE
    elif case == "size":
        mask = png_bytes(np.ones((10, 10), bool))
    elif case == "empty_mask":
        mask = png_bytes(np.zeros((H, W), bool))
    elif case == "long_text":
        text = "a" * 121
    elif case == "many_words":
        text = " ".join(["a"] * 40)
    elif case == "no_image":
        image = None
    elif case == "no_mask":
        mask = None
    elif case == "no_text":
        text = None
    elif case == "bad_flag":
        extra = {"return_attention": "maybe"}
    elif case == "empty_file":
        image = b""
    if case == "text_as_file_field":
        r = client.post("/api/v1/inpaint", data={"image": "abc", "text": "x"},
                        files={"mask": ("m.png", mask, "image/png")})
    else:
        r = post(client, image, mask, text, **extra)
    assert_error(r, 400, expected)


@pytest.mark.parametrize("payload, pattern", [
    ({"image": "!!!not base64!!!", "mask": "", "text": "x"}, "'image' is not valid base64"),
    ({"image": 5, "mask": "", "text": "x"}, "'image' must be a base64 string"),
    ({"mask": "", "text": "x"}, "missing field 'image'"),
    ([1, 2, 3], "must be an object"),
])
def test_bad_json_requests_get_400(client, payload, pattern):
    assert_error(client.post("/api/v1/inpaint", json=payload), 400, pattern)


def test_text_must_be_a_string_in_json(client):
    payload = {"image": base64.b64encode(png_bytes(IMAGE)).decode(),
               "mask": base64.b64encode(png_bytes(HOLE)).decode(), "text": ["a", "b"]}
    assert_error(client.post("/api/v1/inpaint", json=payload), 400, "'text' must be a string")


def test_malformed_json_and_wrong_content_type(client):
    r = client.post("/api/v1/inpaint", content=b"{nope",
                    headers={"content-type": "application/json"})
    assert_error(r, 400, "not valid JSON")
    r = client.post("/api/v1/inpaint", content=b"x", headers={"content-type": "text/plain"})
    assert_error(r, 415, "multipart/form-data")


def test_too_large_requests_get_413(client):
    big = png_bytes(noise_image(260, 260))  # about 200 kB of noise: over the 200_000 limit
    assert len(big) > 200_000
    assert_error(post(client, big, png_bytes(HOLE)), 413, "more than the limit")
    many = png_bytes(np.zeros((400, 400, 3), np.uint8))  # small file, too many pixels
    assert_error(post(client, many, png_bytes(np.ones((400, 400), bool))), 413, "pixels")
    huge_body = client.post("/api/v1/inpaint", content=b"0" * 700_000,
                            headers={"content-type": "application/json"})
    assert_error(huge_body, 413, "request body")


def test_unknown_route_and_method_are_json_errors(client):
    assert_error(client.get("/api/v1/nothing"), 404, "not found")
    assert_error(client.get("/api/v1/inpaint"), 405, "method not allowed")


def test_server_still_answers_after_errors(client):
    for _ in range(3):
        post(client, NOT_AN_IMAGE, png_bytes(HOLE))
        client.post("/api/v1/inpaint", content=b"{", headers={"content-type": "application/json"})
    assert client.get("/healthz").status_code == 200
    assert post(client, png_bytes(IMAGE), png_bytes(HOLE)).status_code == 200


def test_concurrent_requests_are_served(client):
    codes: list[int] = []

    def worker(seed: int):
        image = png_bytes(noise_image(W, H, seed=seed))
        codes.append(post(client, image, png_bytes(HOLE), text="a small bird").status_code)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert codes == [200] * 4


def test_attention_json_is_valid_without_text_words(client):
    r = post(client, png_bytes(IMAGE), png_bytes(HOLE), text="", return_attention="1")
    assert r.status_code == 200
    assert json.loads(r.text)["attention"] == []


def test_seam_per_request_and_as_the_server_default(client, tiny_model_dir):
    image, hole = noise_image(40, 30), box_mask(40, 30, (8, 8, 30, 22))
    plain = post(client, png_bytes(image), png_bytes(hole)).json()
    seam = post(client, png_bytes(image), png_bytes(hole), seam="true").json()
    assert plain["seam"] is False and seam["seam"] is True and seam["model"].endswith("+seam")
    assert plain["image"] != seam["image"]
    result = decode_png(base64.b64decode(seam["image"]))
    assert (result[~hole] == image[~hole]).all()
    assert_error(post(client, png_bytes(image), png_bytes(hole), seam="maybe"), 400, "seam")
    smooth = TestClient(create_app(tiny_model_dir, seam=True))
    assert smooth.get("/api/v1/model").json()["seam"] is True
    assert post(smooth, png_bytes(image), png_bytes(hole)).json()["image"] == seam["image"]


def test_guidance_scale_per_request_as_the_server_default_and_refused_out_of_range(
        client, tiny_model_dir):
    image, hole = noise_image(40, 30), box_mask(40, 30, (8, 8, 30, 22))
    plain = post(client, png_bytes(image), png_bytes(hole)).json()
    strong = post(client, png_bytes(image), png_bytes(hole), guidance_scale="2").json()
    assert plain["guidance_scale"] == 1.0 and plain["model"] == "tiny"
    assert strong["guidance_scale"] == 2.0 and strong["model"] == "tiny+guide2"
    assert plain["image"] != strong["image"]
    result = decode_png(base64.b64decode(strong["image"]))
    assert (result[~hole] == image[~hole]).all()
    as_json = client.post("/api/v1/inpaint", json={
        "image": base64.b64encode(png_bytes(image)).decode(), "text": "a red bird",
        "mask": base64.b64encode(png_bytes(hole)).decode(), "guidance_scale": 2}).json()
    assert as_json["image"] == strong["image"]
    for bad in ("-1", "5", "nan", "lots"):
        assert_error(post(client, png_bytes(image), png_bytes(hole), guidance_scale=bad), 400,
                     "guidance_scale.*from 0 to 4")
    assert client.get("/healthz").status_code == 200  # and it keeps serving
    eager = TestClient(create_app(tiny_model_dir, guidance_scale=2.0))
    assert eager.get("/api/v1/model").json()["guidance_scale"] == 2.0
    assert post(eager, png_bytes(image), png_bytes(hole)).json()["image"] == strong["image"]


def test_the_server_default_follows_the_model_folder(seam_model_dir):
    """A folder whose config.json turns the seam on serves seam-corrected fills unless the
    server (--no-seam) or the request says otherwise."""
    image, hole = noise_image(40, 30), box_mask(40, 30, (8, 8, 30, 22))
    own = TestClient(create_app(seam_model_dir))
    assert own.get("/api/v1/model").json()["seam"] is True
    assert post(own, png_bytes(image), png_bytes(hole)).json()["seam"] is True
    assert post(own, png_bytes(image), png_bytes(hole), seam="false").json()["seam"] is False
    off = TestClient(create_app(seam_model_dir, seam=False))
    assert off.get("/api/v1/model").json()["seam"] is False
