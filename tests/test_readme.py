"""The README's every command, run: CI checks the front page a newcomer copies from.

Each ``bash`` block's lines are run as written: ``textinpaint models | inpaint | demo``
for real (in a scratch folder holding the files the README names: ``bird.jpg``,
``hole.png``, ``photos/``, ``masks/``, ``captions.jsonl``), ``textinpaint serve`` up to the
point where uvicorn would start (its app then answers the README's ``curl`` lines), the
training commands through the argument parser only (they run for hours on real data). Each
``python`` block is executed. The two opening commands must stay exactly as they are.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers_inference import box_mask, noise_image
from textinpaint.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
OPENING = ("bash scripts/setup.sh && .venv/bin/textinpaint demo --out outputs/demo",
           "bash scripts/setup.sh --with-browser && .venv/bin/python -m pytest -q")
RUN = {"models", "inpaint", "demo", "serve"}


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def commands() -> list[str]:
    """Every command line of the README's bash blocks (continuations joined)."""
    out = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                out.append(" ".join(shlex.quote(w) for w in words))
    return out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder with the files the README's examples name."""
    root = tmp_path_factory.mktemp("readme")
    Image.fromarray(noise_image(96, 72)).save(root / "bird.jpg", quality=95)
    Image.fromarray(box_mask(96, 72, (30, 20, 60, 50))).save(root / "hole.png")
    (root / "photos").mkdir()
    (root / "masks").mkdir()
    for i, stem in enumerate("ab"):
        Image.fromarray(noise_image(80, 60, seed=i)).save(root / "photos" / f"{stem}.jpg")
        Image.fromarray(box_mask(80, 60, (20, 10, 50, 40))).save(root / "masks" / f"{stem}.png")
    rows = [{"image": "a.jpg", "caption": "a bird with a white belly"},
            {"image": "b.jpg", "caption": "a black bird"}]
    (root / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def test_the_readme_is_a_front_page():
    assert len(README.splitlines()) < 200
    for command in OPENING:
        assert command in README, command
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        assert (REPO / link).exists(), link
    for name in ("birds-128", "birds-256", "shapes-64"):
        assert f"<!-- results:{name}" in README and f"<!-- /results:{name} -->" in README
        assert f"(models/{name}/README.md)" in README
    assert "docs/EXPERIMENTS.md" in README


def test_the_readme_names_every_answer_field(tiny_pipe):
    from fastapi.testclient import TestClient

    from textinpaint.server.app import create_app

    spec = TestClient(create_app(tiny_pipe)).get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for model in ("InpaintAnswer", "AttentionEntry"):
        for field in schemas[model]["properties"]:
            assert f"`{field}`" in README, f"README does not name {model}.{field}"
    assert "`/openapi.json`" in README and "`/docs`" in README


def run_curl(app, words: list[str], cwd: Path) -> None:
    """A README curl line (-F name=@file / name=value, -H, -o, URL) against ``app``."""
    from fastapi.testclient import TestClient

    files, data, headers, output, url = {}, {}, {}, None, None
    it = iter(words[1:])
    for word in it:
        if word == "-F":
            key, _, value = next(it).partition("=")
            if value.startswith("@"):
                files[key] = (value[1:], (cwd / value[1:]).read_bytes())
            else:
                data[key] = value
        elif word == "-H":
            key, _, value = next(it).partition(":")
            headers[key.strip()] = value.strip()
        elif word == "-o":
            output = cwd / next(it)
        elif word.startswith("http"):
            url = word
        else:
            raise AssertionError(f"the README's curl uses {word!r}, which this test cannot read")
    path = "/" + url.split("/", 3)[3]
    # the Host the README's URL names (serve refuses others: DNS rebinding)
    host = url.split("/")[2]
    answer = TestClient(app, base_url=f"http://{host}").post(path, files=files, data=data,
                                                          headers=headers)
    assert answer.status_code == 200, answer.text
    if output is not None:
        output.write_bytes(answer.content)
        assert Image.open(output).format == "PNG"
    else:
        assert set(answer.json()) >= {"image", "width", "height", "warnings"}


def test_every_readme_command_runs(scratch, monkeypatch, capsys):
    import uvicorn

    monkeypatch.chdir(scratch)
    served = []
    # serve builds a uvicorn.Server from a Config: record the app instead of listening.
    monkeypatch.setattr(uvicorn.Server, "run",
                        lambda self, *a, **kw: served.append(self.config.app))
    seen = set()
    for line in commands():
        words = shlex.split(line)
        if words[0] == "bash":  # the opening commands: set-up is CI's job, the rest runs
            assert line in (shlex.join(shlex.split(c)) for c in OPENING)
            if "demo" in words:
                tail = words[words.index("&&") + 1:]
                assert tail[0] == ".venv/bin/textinpaint"
                assert main(tail[1:]) == 0, capsys.readouterr().err
                assert (scratch / "outputs" / "demo" / "comparison.png").is_file()
            continue
        if words[0] == "curl":
            assert served, "the README shows curl before textinpaint serve"
            run_curl(served[-1], words, scratch)
            seen.add("curl")
            continue
        assert words[0] == "textinpaint", f"unknown README command: {line}"
        seen.add(words[1])
        if words[1] in RUN:
            assert main(words[1:]) == 0, f"{line}\n{capsys.readouterr().err}"
        else:  # hours of training on real data: the parser must accept it as written
            args, extra = build_parser().parse_known_args(words[1:])
            assert all("=" in e and not e.startswith("-") for e in extra), (line, extra)
    assert {"models", "inpaint", "serve", "curl"} <= seen
    assert (scratch / "filled.png").is_file() and (scratch / "filled.jpg").is_file()
    assert sorted(p.name for p in (scratch / "filled").glob("*.png")) == ["a.png", "b.png"]


def test_every_readme_python_block_runs(scratch, monkeypatch):
    monkeypatch.chdir(scratch)
    for code in blocks("python"):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    filled = np.asarray(Image.open(scratch / "filled.png"))
    assert filled.shape == (72, 96, 3)
