"""``textinpaint inpaint`` on files and folders: pairing, captions, warnings, --concat."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from helpers_inference import box_mask, noise_image
from textinpaint import shipped
from textinpaint.caption_files import read_caption_table
from textinpaint.cli import main
from textinpaint.errors import UserError

W, H = 48, 40
HOLE = box_mask(W, H, (10, 10, 30, 25))


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def known_exact(result_path, image):
    result = np.asarray(Image.open(result_path))
    np.testing.assert_array_equal(result[~HOLE], image[~HOLE])


@pytest.fixture
def folders(tmp_path):
    """images/ with a, b (jpg), c (no mask), d (no caption), e (unreadable); masks/."""
    images = {name: noise_image(W, H, seed=i) for i, name in enumerate("abcd")}
    for name in "acd":
        save(tmp_path / "images" / f"{name}.png", images[name])
    save(tmp_path / "images" / "b.jpg", images["b"])
    (tmp_path / "images" / "e.png").write_bytes(b"not a png at all")
    (tmp_path / "images" / "notes.md").write_text("ignored: not an image")
    mask = HOLE.astype(np.uint8) * 255
    for name in ("a", "b_mask", "d", "e"):
        save(tmp_path / "masks" / f"{name}.png", mask)
    rows = [{"image": "a.png", "caption": "a red bird"}, {"image": "b.jpg", "text": "a blue bird"},
            {"image": "c.png", "caption": "x"}, {"image": "e.png", "caption": "y"}]
    captions = tmp_path / "captions.jsonl"
    captions.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return tmp_path, images


def test_folder_batch_reports_missing_pairs_and_goes_on(folders, tiny_model_dir, capsys):
    root, images = folders
    code = main(["inpaint", "--model", str(tiny_model_dir), "--image", str(root / "images"),
                 "--mask", str(root / "masks"), "--captions", str(root / "captions.jsonl"),
                 "--output", str(root / "out"), "--concat"])
    err = capsys.readouterr()
    assert code == 0
    assert sorted(p.name for p in (root / "out").glob("*.png")) == ["a.png", "b.png"]
    known_exact(root / "out" / "a.png", images["a"])
    lines = [line.split("]", 1)[-1].strip() for line in err.err.splitlines()]
    unknown = [line for line in lines if "unknown word(s) 'bird'" in line]
    assert len(unknown) == 1, err.err  # the same caption problem is said once per batch
    warnings = [line for line in lines if line.startswith("warning:") and line not in unknown]
    assert len(warnings) == 3, err.err
    assert any("c.png: no mask" in w for w in warnings)
    assert any("d.png: no caption" in w for w in warnings)
    assert any("e.png" in w and "not a readable image" in w for w in warnings)
    assert "wrote 2 of 5 image(s)" in err.out and "skipped 3" in err.out
    concat = Image.open(root / "out" / "concat" / "a.png")
    assert concat.size == (2 * W, H)
    left = np.asarray(concat)[:, :W]
    assert (left[HOLE] == 255).all()


def test_one_mask_for_all_and_captions_from_csv_and_txt(tmp_path, tiny_model_dir, capsys):
    a, b, c = (noise_image(W, H, seed=s) for s in range(3))
    save(tmp_path / "in" / "a.png", a)
    save(tmp_path / "in" / "b.png", b)
    save(tmp_path / "in" / "c.png", c)
    (tmp_path / "in" / "c.txt").write_text("\na bird from a text file\nsecond line ignored\n")
    mask = save(tmp_path / "mask.png", HOLE.astype(np.uint8) * 255)
    (tmp_path / "caps.csv").write_text('image,caption\na.png,"a red bird, small"\nb,a blue bird\n')
    code = main(["inpaint", "--model", str(tiny_model_dir), "--image", str(tmp_path / "in"),
                 "--mask", str(mask), "--captions", str(tmp_path / "caps.csv"),
                 "--output", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    for name, image in zip("abc", (a, b, c)):
        known_exact(tmp_path / "out" / f"{name}.png", image)


def test_mask_of_another_size_is_refused_or_resized_with_a_warning(tmp_path, tiny_model_dir,
                                                                   capsys):
    image = save(tmp_path / "in" / "a.png", noise_image(96, 80))
    big_mask = np.zeros((160, 192), np.uint8)
    big_mask[20:60, 20:60] = 255
    mask = save(tmp_path / "mask.png", big_mask)
    args = ["inpaint", "--model", str(tiny_model_dir), "--image", str(image),
            "--mask", str(mask), "--text", "a circle", "--output", str(tmp_path / "out.png")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "the mask is 192×160 but the image is 96×80" in err and "--resize-mask" in err
    assert main(args + ["--resize-mask"]) == 0
    assert "warning: a.png: the mask was 192×160; stretched to the image's 96×80" in \
        capsys.readouterr().err
    result = np.asarray(Image.open(tmp_path / "out.png"))
    outside = np.ones((80, 96), bool)
    outside[10:30, 10:30] = False
    np.testing.assert_array_equal(result[outside], np.asarray(Image.open(image))[outside])


def test_all_failing_exits_non_zero(tmp_path, tiny_model_dir, capsys):
    save(tmp_path / "in" / "a.png", noise_image(W, H))
    mask = save(tmp_path / "empty.png", np.zeros((H, W), np.uint8))
    code = main(["inpaint", "--model", str(tiny_model_dir), "--image", str(tmp_path / "in"),
                 "--mask", str(mask), "--text", "a bird", "--output", str(tmp_path / "out")])
    err = capsys.readouterr()
    assert code == 1
    assert "no white" in err.err and "wrote 0 of 1" in err.out


def test_single_image_with_concat(tmp_path, tiny_model_dir, capsys):
    image = noise_image(W, H)
    src = save(tmp_path / "bird.png", image)
    mask = save(tmp_path / "hole.png", HOLE.astype(np.uint8) * 255)
    out = tmp_path / "filled.png"
    assert main(["inpaint", "--model", str(tiny_model_dir), "--image", str(src), "--mask",
                 str(mask), "--text", "a red bird", "--output", str(out), "--concat"]) == 0
    known_exact(out, image)
    assert Image.open(tmp_path / "filled_concat.png").size == (2 * W, H)
    assert "wrote" in capsys.readouterr().out


def test_single_image_errors_are_one_line(tmp_path, tiny_model_dir, capsys):
    src = save(tmp_path / "bird.png", noise_image(W, H))
    mask = save(tmp_path / "hole.png", HOLE.astype(np.uint8) * 255)
    args = ["inpaint", "--model", str(tiny_model_dir), "--image", str(src), "--mask", str(mask)]
    assert main(args + ["--output", str(tmp_path / "o.png")]) == 2
    assert "no caption for" in capsys.readouterr().err
    assert main(args + ["--text", "x", "--output", str(tmp_path / "o.gif")]) == 2
    assert "must end in .png" in capsys.readouterr().err
    assert main(["inpaint", "--model", str(tiny_model_dir), "--image", str(tmp_path / "none.png"),
                 "--mask", str(mask), "--text", "x", "--output", str(tmp_path / "o.png")]) == 2


def test_missing_shipped_model_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shipped, "SOURCE_MODELS", tmp_path / "models")
    monkeypatch.delenv(shipped.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    src = save(tmp_path / "bird.png", noise_image(W, H))
    assert main(["inpaint", "--image", str(src), "--mask", str(src), "--text", "x",
                 "--output", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert "shipped model birds-128 was not found; pass --model DIR" in err
    assert "TEXTINPAINT_MODELS" in err


def test_caption_tables(tmp_path):
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"image": "x/a.jpg", "caption": "one"}\n\n{"file": "b.png", "text": "two"}\n')
    assert read_caption_table(jsonl) == {"x/a.jpg": "one", "b.png": "two"}
    headerless = tmp_path / "c.csv"
    headerless.write_text("a.jpg,one\nb.jpg,\"two, three\"\n")
    assert read_caption_table(headerless) == {"a.jpg": "one", "b.jpg": "two, three"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image": "a.jpg"}\n')
    with pytest.raises(UserError, match="line 1"):
        read_caption_table(bad)
    (tmp_path / "c.txt").write_text("a.jpg,one\n")
    with pytest.raises(UserError, match=r"\.jsonl or \.csv"):
        read_caption_table(tmp_path / "c.txt")
