"""The painter in a real browser: open an image, paint, caption, inpaint, check the pixels.

Runs Debian's chromium (``apt-get install chromium``) through Playwright against the real
server on a loopback port; Playwright never downloads a browser here.
"""

from __future__ import annotations

import base64
import io
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's /usr/bin/chromium is absent (apt-get install chromium)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(pipeline, start_seconds: float = 30):
    """The real server for ``pipeline`` on a free loopback port: yields its URL, then stops."""
    import uvicorn

    from textinpaint.server.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(pipeline), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_seconds
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server_url(tiny_pipe):
    yield from serve(tiny_pipe)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield instance
        instance.close()


def scene(width: int, height: int) -> np.ndarray:
    """A smooth picture with a few discs: easy to look at in the screenshot."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([90 + 100 * x / width, 140 + 60 * y / height,
                      200 - 80 * x / width + 0 * y], axis=-1)
    for cx, cy, r, colour in [(0.3, 0.4, 0.15, (220, 60, 50)), (0.7, 0.6, 0.2, (250, 210, 60))]:
        disc = (x - cx * width) ** 2 + (y - cy * height) ** 2 < (r * height) ** 2
        image[disc] = colour
    return np.clip(image, 0, 255).astype(np.uint8)


def data_url_pixels(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def segment_distance(px, py, a, b):
    """Distance of points (px, py) to the segment a-b."""
    ax, ay = a
    bx, by = b
    t = np.clip(((px - ax) * (bx - ax) + (py - ay) * (by - ay)) /
                ((bx - ax) ** 2 + (by - ay) ** 2), 0, 1)
    return np.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)))


def test_paint_caption_inpaint_explain(browser, server_url, tmp_path):
    width, height = 360, 240
    original = scene(width, height)
    image_path = tmp_path / "scene.png"
    Image.fromarray(original).save(image_path)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server_url)
    page.get_by_text("reads captions").wait_for()
    page.get_by_label("Open image").set_input_files(str(image_path))
    canvas = page.get_by_label("Mask canvas: paint the part to fill")
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    scale = width / box["width"]  # image pixels per screen pixel

    # a stroke from 30 %/40 % to 60 %/60 % of the image, with the default 40 px brush
    start, end = (0.3, 0.4), (0.6, 0.6)
    to_screen = lambda p: (box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"])  # noqa: E731
    page.mouse.move(*to_screen(start))
    page.mouse.down()
    page.mouse.move(*to_screen(end), steps=12)
    page.mouse.up()

    # undo / redo shortcuts and the tool keys
    page.keyboard.press("Control+z")
    assert page.get_by_role("button", name="Undo").is_disabled()
    page.keyboard.press("Control+y")
    assert page.get_by_role("button", name="Undo").is_enabled()
    page.keyboard.press("e")
    assert page.get_by_role("button", name="Eraser").get_attribute("aria-pressed") == "true"
    page.keyboard.press("b")
    page.keyboard.press("]")
    assert page.get_by_label("Brush size").input_value() != "40"

    page.get_by_label("Caption", exact=True).fill("this bird has a bright red crown")
    page.get_by_role("button", name="Inpaint").click()
    result_img = page.locator("#results img.after").first
    result_img.wait_for(state="visible", timeout=60_000)
    result = data_url_pixels(result_img.get_attribute("src"))
    mask = data_url_pixels(page.evaluate("window.textinpaint.maskDataURL()"))

    assert result.shape == original.shape
    assert mask.shape[:2] == (height, width)  # painted and sent at the image's resolution
    hole = mask[:, :, 0] > 127
    assert hole.sum() > 100
    # the mask is the stroke: every hole pixel lies within the brush radius of the path
    ys, xs = np.nonzero(hole)
    a = (start[0] * width, start[1] * height)
    b = (end[0] * width, end[1] * height)
    assert segment_distance(xs, ys, a, b).max() <= 20 * scale + 2
    assert hole[int((a[1] + b[1]) / 2), int((a[0] + b[0]) / 2)]
    # outside the hole nothing changed, not by one grey level; inside it something did
    np.testing.assert_array_equal(result[~hole], original[~hole])
    assert (result[hole] != original[hole]).any()

    # the tiny model reads the shapes vocabulary: the result names the words it ignored
    warning = page.locator(".result .warning").first
    assert "'bird'" in warning.text_content() and "ignored" in warning.text_content()

    # explain: hovering a word overlays its attention map and shows its weight
    word = page.locator(".result .word").nth(4)
    word.hover()
    page.locator(".result .compare.explaining").wait_for()
    assert "weight" in word.get_attribute("aria-label")
    page.screenshot(path=str(tmp_path / "painter.png"), full_page=True)

    # the caption check says, before any request, what the model will not read
    page.get_by_label("Caption", exact=True).fill("red " * 30)
    assert "30 words; the model reads the first 18" in \
        page.locator("#caption-check").text_content()
    page.get_by_label("Caption", exact=True).fill("🐦")
    assert "no word the model can read" in page.locator("#caption-check").text_content()

    # variants: one result per caption line, side by side
    page.get_by_label("Caption", exact=True).fill("a red bird\na blue bird with a long tail")
    assert not page.get_by_label("Mirror ensemble").is_checked()  # the server's default
    page.get_by_label("Mirror ensemble").check()
    assert not page.get_by_label("Smooth the seam").is_checked()  # the server's default
    page.get_by_label("Smooth the seam").check()
    assert page.locator("#guidance-value").text_content() == "1"  # the server's default
    page.get_by_label("Caption strength").fill("1.5")
    assert page.locator("#guidance-value").text_content() == "1.5"
    with page.expect_response("**/api/v1/inpaint") as answered:
        page.get_by_role("button", name="Inpaint").click()
    answer = answered.value.json()
    assert answer["flip_ensemble"] is True and answer["seam"] is True  # asked for both
    assert answer["guidance_scale"] == 1.5 and answer["model"].endswith("+flip+seam+guide1.5")
    page.locator("#results img.after").nth(1).wait_for(state="visible", timeout=60_000)
    assert page.locator("#results .result").count() == 2
    page.get_by_role("button", name="Inpaint").wait_for()
    assert not errors, errors
    assert (tmp_path / "painter.png").stat().st_size > 10_000
    page.close()


def test_api_docs_render_with_the_network_cut_off(browser, server_url):
    """/docs draws the API's operations from local files only: every request that would
    leave 127.0.0.1 is aborted, and /docs tries none."""
    page = browser.new_page()
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith(server_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(server_url + "docs")
    page.locator(".opblock-summary-path", has_text="/api/v1/inpaint").wait_for(timeout=30_000)
    assert not outside, outside
    page.goto(server_url + "redoc")
    page.get_by_text("Fill the white part of the mask").first.wait_for(timeout=30_000)
    # ReDoc renders all the same; only its "powered by" logo would come from its CDN.
    assert all(url.endswith("logo-mini.svg") for url in outside), outside
    page.close()


SHIPPED_BIRDS = Path(__file__).resolve().parents[1] / "models" / "birds-128"


@pytest.fixture(scope="module")
def birds_url(shared_data):
    """The real server with the shipped birds-128, on its own loopback port."""
    if not (SHIPPED_BIRDS / "config.json").is_file():
        pytest.skip("models/birds-128 is not shipped")
    yield from serve(SHIPPED_BIRDS, start_seconds=60)


def test_shipped_birds_variants_follow_their_captions_and_explain(browser, birds_url, shared_data,
                                                                  tmp_path):
    """A real CUB test bird in the painter with birds-128: the bird painted over, two caption
    lines give two fills, the red one redder and the blue one bluer; the red caption's word
    weights put "red" first or second; hovering a word of a result overlays its attention
    map."""
    from textinpaint.data.base import bird_crop_box
    from textinpaint.data.cub import load_records

    root = shared_data / "cub"
    if not (root / "CUB_200_2011").is_dir():
        pytest.skip(f"CUB subset not found under {root}")
    record = [r for r in load_records(root, "test") if r.bbox][792]
    photo = Image.open(record.path).convert("RGB")
    photo = photo.crop(bird_crop_box(record.bbox, photo.width, photo.height)).resize((256, 256))
    photo.save(tmp_path / "bird.png")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(birds_url)
    page.get_by_label("Open image").set_input_files(str(tmp_path / "bird.png"))
    canvas = page.get_by_label("Mask canvas: paint the part to fill")
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    page.keyboard.press("]")  # a broader brush: the bird's middle, in three strokes
    for y in (0.42, 0.5, 0.58):
        page.mouse.move(box["x"] + 0.38 * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.62 * box["width"], box["y"] + y * box["height"], steps=8)
        page.mouse.up()
    page.get_by_label("Caption", exact=True).fill(
        "this bird is bright red all over with a red head and red wings\n"
        "this bird is bright blue all over with a blue head and blue wings")
    page.get_by_role("button", name="Inpaint").click()
    page.locator("#results img.after").nth(1).wait_for(state="visible", timeout=120_000)
    red, blue = (data_url_pixels(page.locator("#results img.after").nth(i).get_attribute("src"))
                 for i in (0, 1))
    hole = data_url_pixels(page.evaluate("window.textinpaint.maskDataURL()"))[:, :, 0] > 127
    assert hole.sum() > 2000
    original = np.asarray(photo)
    np.testing.assert_array_equal(red[~hole], original[~hole])
    r, b = red[hole].astype(float).mean(axis=0), blue[hole].astype(float).mean(axis=0)
    assert r[0] - r[2] > b[0] - b[2] + 40, (r, b)  # red: more red than blue, by far

    # the word weights say which words the fill reads most: "red" among the first two
    labels = page.locator(".result").first.locator(".word").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))")
    weights = {}
    for label in labels:
        word, _, value = label.partition(": word weight ")
        weights[word] = max(weights.get(word, 0.0), float(value))
    assert "red" in sorted(weights, key=weights.get, reverse=True)[:2], weights

    word = page.locator(".result .word", has_text="red").first
    word.hover()
    page.locator(".result .compare.explaining").wait_for()
    assert "weight" in word.get_attribute("aria-label")
    page.screenshot(path=str(tmp_path / "painter-birds.png"), full_page=True)
    assert not errors, errors
    page.close()
