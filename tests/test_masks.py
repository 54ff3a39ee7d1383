"""Mask generators: protocol geometry, determinism, file convention, annotation masks, specs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textinpaint.data.masks import (
    PART_GROUPS,
    IrregularMasks,
    MaskMixture,
    bucket_of,
    load_mask_file,
    parse_mask_spec,
)
from textinpaint.errors import UserError

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TEXTINPAINT_DATA", REPO.parent / "shared" / "data"))
NVIDIA = DATA / "masks" / "nvidia_irregular_test"

RANDOM_SPECS = ["box", "freeform:thin", "freeform", "freeform:thick", "mix"]
META = {"bbox": (40, 30, 200, 220), "parts": {"crown": (100, 50), "beak": (80, 60)}}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def assert_binary(mask: np.ndarray, height: int, width: int) -> None:
    assert mask.dtype == np.float32
    assert mask.shape == (height, width)
    assert set(np.unique(mask)) <= {0.0, 1.0}


# ------------------------------------------------------------------------------- centre, box


def test_center_default_is_mmfl_hole_at_256():
    mask = parse_mask_spec("center")(256, 256, rng())
    expected = np.zeros((256, 256), np.float32)
    expected[64:193, 64:193] = 1
    np.testing.assert_array_equal(mask, expected)


def test_center_ratio_and_non_square():
    assert parse_mask_spec("center:0.5")(256, 256, rng()).mean() == pytest.approx(0.25)
    mask = parse_mask_spec("center:0.5")(100, 60, rng())
    assert_binary(mask, 100, 60)
    rows, cols = np.where(mask.any(1))[0], np.where(mask.any(0))[0]
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (25, 74, 15, 44)


@pytest.mark.parametrize("spec", RANDOM_SPECS + ["center", "object:0.1", "part:head"])
@pytest.mark.parametrize("size", [(256, 256), (96, 160), (200, 72)])
def test_shapes_values_and_determinism(spec, size):
    gen = parse_mask_spec(spec)
    a = gen(*size, rng(7), dict(META))
    b = gen(*size, rng(7), dict(META))
    assert_binary(a, *size)
    np.testing.assert_array_equal(a, b)
    assert a.any()


@pytest.mark.parametrize("spec", ["box", "freeform:thin", "freeform:medium", "freeform:thick"])
def test_different_seeds_differ(spec):
    gen = parse_mask_spec(spec)
    masks = [gen(128, 128, rng(seed)) for seed in range(4)]
    assert any(not np.array_equal(masks[0], m) for m in masks[1:])


def test_box_sizes_within_range():
    for seed in range(20):
        mask = parse_mask_spec("box")(200, 100, rng(seed))
        assert 0.01 * 0.9 <= mask.mean() <= 0.75


def test_freeform_thick_covers_more_than_thin():
    def mean_area(spec):
        gen = parse_mask_spec(spec)
        return np.mean([gen(128, 128, rng(s)).mean() for s in range(40)])

    thin, medium, thick = (mean_area(f"freeform:{s}") for s in ("thin", "medium", "thick"))
    assert thin < medium < thick
    assert thick <= 0.5


def test_freeform_scales_with_size():
    # Same draws at two sizes: widths/lengths scale, so hole fractions stay comparable.
    gen = parse_mask_spec("freeform:medium")
    small = np.mean([gen(64, 64, rng(s)).mean() for s in range(20)])
    large = np.mean([gen(512, 512, rng(s)).mean() for s in range(20)])
    assert abs(small - large) < 0.1


# ------------------------------------------------------------------------------- mask files


def test_load_mask_file_convention(tmp_path):
    grey = np.zeros((4, 4), np.uint8)
    grey[:, 2:] = 200  # white = hole
    grey[0, 0] = 127  # exactly 127 is not a hole
    grey[3, 0] = 128
    Image.fromarray(grey, "L").save(tmp_path / "m.png")
    mask = load_mask_file(tmp_path / "m.png", 4, 4)
    expected = (grey > 127).astype(np.float32)
    np.testing.assert_array_equal(mask, expected)
    # Nearest-neighbour: each source pixel becomes a 2×2 block, values stay 0/1.
    big = load_mask_file(tmp_path / "m.png", 8, 8)
    assert_binary(big, 8, 8)
    np.testing.assert_array_equal(big, np.kron(expected, np.ones((2, 2), np.float32)))


@pytest.mark.parametrize("mode", ["RGB", "LA", "RGBA", "1"])
def test_load_mask_file_any_mode(tmp_path, mode):
    grey = np.zeros((6, 10), np.uint8)
    grey[1:4, 2:7] = 255
    Image.fromarray(grey, "L").convert(mode).save(tmp_path / "m.png")
    np.testing.assert_array_equal(load_mask_file(tmp_path / "m.png", 6, 10), grey > 127)


def test_load_mask_file_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="nope.png"):
        load_mask_file(tmp_path / "nope.png", 8, 8)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="bad.png"):
        load_mask_file(tmp_path / "bad.png", 8, 8)


def make_nvidia_folder(folder: Path) -> Path:
    """Six files, one per bucket; the hole fraction grows with the bucket."""
    folder.mkdir()
    for bucket in range(1, 7):
        grey = np.zeros((32, 32), np.uint8)
        grey[: 5 * bucket, :] = 255
        Image.fromarray(grey).save(folder / f"{(bucket - 1) * 2000 + 7:05d}.png")
    (folder / "LICENSE.txt").write_text("not a mask")
    return folder


def test_bucket_of():
    assert bucket_of(0) == 1 and bucket_of(1999) == 1 and bucket_of(2000) == 2
    assert bucket_of(11999) == 6 and bucket_of(12000) is None
    assert bucket_of("/x/04500.png") == 3 and bucket_of(Path("10000.png")) == 6
    assert bucket_of("mask_3.png") is None


def test_irregular_folder_buckets_and_meta(tmp_path):
    folder = make_nvidia_folder(tmp_path / "nv")
    gen = parse_mask_spec(f"irregular:{folder}")
    assert isinstance(gen, IrregularMasks) and len(gen) == 6
    meta = {}
    mask = gen(64, 48, rng(3), meta)
    assert_binary(mask, 64, 48)
    assert meta["mask_bucket"] == bucket_of(meta["mask_file"])
    assert gen.file_for(7) == gen.file_for(1)

    only3 = parse_mask_spec(f"irregular:{folder}:3")
    assert [p.name for p in only3.files] == ["04007.png"]
    meta = {}
    assert only3(32, 32, rng(0), meta).mean() == pytest.approx(15 / 32)
    assert meta["mask_bucket"] == 3


def test_irregular_determinism_and_augment(tmp_path):
    folder = make_nvidia_folder(tmp_path / "nv")
    plain = parse_mask_spec(f"irregular:{folder}")
    np.testing.assert_array_equal(plain(32, 32, rng(5)), plain(32, 32, rng(5)))
    aug = parse_mask_spec(f"irregular:{folder}:6", train=True)
    assert aug.augment and not plain.augment
    masks = [aug(32, 32, rng(s)) for s in range(12)]
    # Flips/rotations keep the hole area but move the band of rows to other sides.
    assert all(m.mean() == pytest.approx(30 / 32) for m in masks)
    assert len({m.tobytes() for m in masks}) > 1


def test_irregular_path_with_colon(tmp_path):
    folder = make_nvidia_folder(tmp_path / "a:b")
    gen = parse_mask_spec(f"irregular:{folder}:2")
    assert gen.folder == folder and gen.bucket == 2


def test_irregular_errors(tmp_path):
    with pytest.raises(UserError, match="missing"):
        parse_mask_spec(f"irregular:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no mask images"):
        parse_mask_spec(f"irregular:{tmp_path / 'empty'}")
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(other / "hole.png")
    assert len(parse_mask_spec(f"irregular:{other}")) == 1
    with pytest.raises(UserError, match="buckets need NVIDIA"):
        parse_mask_spec(f"irregular:{other}:3")
    with pytest.raises(UserError, match="bucket must be 1..6"):
        parse_mask_spec(f"irregular:{make_nvidia_folder(tmp_path / 'nv')}:9")


@pytest.mark.skipif(not NVIDIA.is_dir(), reason=f"NVIDIA irregular masks not found at {NVIDIA}")
def test_real_nvidia_bucket3_hole_ratios():
    gen = parse_mask_spec(f"irregular:{NVIDIA}:3")
    assert len(gen) == 2000
    ratios = []
    for seed in range(12):
        meta = {}
        ratios.append(gen(128, 128, rng(seed), meta).mean())
        assert meta["mask_bucket"] == 3
    assert min(ratios) > 0.18 and max(ratios) < 0.32


# ------------------------------------------------------------------------------- object, part


def test_object_mask_is_bbox_and_grows():
    meta = {"bbox": (10, 20, 50, 40)}
    mask = parse_mask_spec("object")(64, 80, rng(), meta)
    expected = np.zeros((64, 80), np.float32)
    expected[20:40, 10:50] = 1
    np.testing.assert_array_equal(mask, expected)
    grown = parse_mask_spec("object:0.1")(64, 80, rng(), meta)
    expected[18:42, 6:54] = 1  # 10% of 40 wide = 4 px, 10% of 20 high = 2 px
    np.testing.assert_array_equal(grown, expected)
    clipped = parse_mask_spec("object:1")(64, 80, rng(), meta)
    assert clipped[0:60, 0:80].all() and not clipped[60:].any()


def test_object_without_bbox_is_user_error():
    with pytest.raises(UserError, match="bounding boxes"):
        parse_mask_spec("object")(64, 64, rng(), {"parts": {}})
    with pytest.raises(UserError, match="bounding boxes"):
        parse_mask_spec("object")(64, 64, rng())


def test_background_hole_avoids_the_bird_box_and_needs_one():
    # A bird on the left: a square a quarter of the image wide fits beside it every time.
    meta = {"bbox": (0, 0, 40, 64)}
    gen = parse_mask_spec("background:0.25")
    for seed in range(20):
        mask = gen(64, 80, rng(seed), meta)
        assert mask.sum() == 16 * 16 and not mask[:, :40].any()
    # Drawn sides vary within 25-45 % of the shorter side, and the draw is the rng's.
    sides = {int(parse_mask_spec("background")(100, 100, rng(s), meta).sum() ** 0.5)
             for s in range(30)}
    assert min(sides) >= 25 and max(sides) <= 45 and len(sides) > 5
    np.testing.assert_array_equal(gen(64, 80, rng(3), meta), gen(64, 80, rng(3), meta))
    # A bird that fills the frame: the hole still overlaps it as little as any position can.
    big = {"bbox": (8, 8, 56, 56)}
    mask = parse_mask_spec("background:0.5")(64, 64, rng(1), big)
    assert mask.sum() == 32 * 32 and mask[8:56, 8:56].sum() < 32 * 32
    with pytest.raises(UserError, match="bounding boxes"):
        gen(64, 64, rng(), {"parts": {}})
    # In a mixture it is skipped for images without a box, like ``object``.
    mix = parse_mask_spec("mix:background+center")
    assert all(mix(32, 32, rng(s), {})[8:24, 8:24].all() for s in range(5))


def test_part_head_covers_head_points():
    parts = {"crown": (120, 40), "beak": (90, 60), "left eye": (110, 55), "tail": (30, 200)}
    meta = {"parts": parts}
    mask = parse_mask_spec("part:head")(256, 256, rng(), meta)
    assert meta["mask_fallback"] is False
    for name in ("crown", "beak", "left eye"):
        x, y = parts[name]
        assert mask[y, x] == 1
    assert mask[200, 30] == 0  # the tail is not part of the head
    assert mask.mean() < 0.15


def test_part_single_name_and_random_group():
    meta = {"parts": {"left eye": (20, 30), "right eye": (40, 30)}}
    mask = parse_mask_spec("part:left_eye")(128, 128, rng(), meta)
    assert mask[30, 20] == 1 and mask[30, 40] == 0
    # `part` alone picks a group with visible points: here only the head has any.
    np.testing.assert_array_equal(
        parse_mask_spec("part")(128, 128, rng(), meta),
        parse_mask_spec("part:head")(128, 128, rng(), meta),
    )
    assert set(PART_GROUPS) == {"head", "body", "wings", "tail", "legs"}


def test_part_fallbacks():
    meta = {"parts": {"tail": (10, 10)}, "bbox": (5, 6, 30, 40)}
    mask = parse_mask_spec("part:wings")(64, 64, rng(), meta)
    assert meta["mask_fallback"] is True
    np.testing.assert_array_equal(mask, parse_mask_spec("object")(64, 64, rng(), meta))
    meta = {"parts": {}}
    mask = parse_mask_spec("part:legs")(256, 256, rng(), meta)
    assert meta["mask_fallback"] is True
    np.testing.assert_array_equal(mask, parse_mask_spec("center")(256, 256, rng()))


# ------------------------------------------------------------------------------- mixtures


def test_mixture_determinism_and_default():
    mix = parse_mask_spec("mix")
    assert isinstance(mix, MaskMixture) and mix.spec == "mix"
    specs = set()
    for seed in range(40):
        meta_a, meta_b = dict(META), dict(META)
        np.testing.assert_array_equal(
            mix(64, 64, rng(seed), meta_a), mix(64, 64, rng(seed), meta_b)
        )
        assert meta_a["mask_spec"] == meta_b["mask_spec"]
        specs.add(meta_a["mask_spec"])
    assert "object" in specs and "center" in specs


def test_mixture_skips_object_without_bbox():
    mix = parse_mask_spec("mix")
    for seed in range(40):
        meta = {}
        mix(64, 64, rng(seed), meta)
        assert meta["mask_spec"] != "object"
    assert mix(64, 64, rng(0)).shape == (64, 64)  # meta=None works too
    with pytest.raises(UserError, match="none of its masks"):
        parse_mask_spec("mix:object+part:head")(64, 64, rng(), {})


def test_mixture_list_spec():
    mix = parse_mask_spec("mix:center+box+freeform:thick")
    assert [g.spec for g, _ in mix.members] == ["center", "box", "freeform:thick"]
    assert [w for _, w in mix.members] == [1.0, 1.0, 1.0]
    assert repr(mix) == "MaskMixture('mix:center+box+freeform:thick')"


# ------------------------------------------------------------------------------- specs


@pytest.mark.parametrize(
    "spec",
    ["center", "center:0.5", "box", "freeform:thin", "object", "object:0.1", "background",
     "background:0.3", "part:head", "mix"],
)
def test_spec_round_trips(spec):
    gen = parse_mask_spec(spec)
    assert gen.spec == spec and gen.name == spec.split(":")[0]
    assert repr(gen).endswith(f"('{spec}')")
    assert parse_mask_spec(gen.spec).spec == spec


@pytest.mark.parametrize(
    "spec",
    ["blob", "center:0", "center:1.5", "center:abc", "freeform:huge", "box:3", "object:-1",
     "part:toes", "irregular:", "mix:center+blob", "mix:mix", "background:0", "background:x"],
)  # fmt: skip
def test_bad_specs_name_the_spec(spec):
    with pytest.raises(UserError) as info:
        parse_mask_spec(spec)
    message = str(info.value)
    assert f"'{spec}'" in message
    assert "\n" not in message


def test_bad_spec_lists_valid_kinds():
    with pytest.raises(UserError, match="blob.*center.*freeform.*irregular.*part"):
        parse_mask_spec("blob")
    with pytest.raises(UserError, match="head, body, wings"):
        parse_mask_spec("part:toes")
    with pytest.raises(UserError, match="thin, medium, thick"):
        parse_mask_spec("freeform:huge")


def test_object_mask_shrinks_to_its_centre():
    """``object:-0.15`` keeps the central 70 % of each side (evaluation's box control hole)."""
    meta = {"bbox": (10.0, 20.0, 50.0, 60.0)}
    m = parse_mask_spec("object:-0.15")(80, 80, np.random.default_rng(0), meta)
    rows, cols = np.nonzero(m)
    assert (cols.min(), cols.max() + 1, rows.min(), rows.max() + 1) == (16, 44, 26, 54)
    with pytest.raises(UserError):
        parse_mask_spec("object:-0.5")
