"""Generator, discriminator and their layers: shapes, compositing, captions of any length."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import yaml
from torch.nn.utils.parametrize import is_parametrized

from textinpaint.config import ConfigError, from_dict
from textinpaint.errors import UserError
from textinpaint.model_folder import load_weights, save_weights
from textinpaint.nn.attention import NonLocalAttention, WordAttention, WordDemand, hole_position
from textinpaint.nn.conditioning import ConditioningAugmentation, kl_loss
from textinpaint.nn.discriminator import DiscriminatorConfig, PatchDiscriminator
from textinpaint.nn.fusion import FusionBlock, resize_image, resize_mask
from textinpaint.nn.generator import (
    GeneratorConfig,
    InpaintGenerator,
    count_parameters,
    zero_start_params,
)
from textinpaint.nn.prefill import prefill
from textinpaint.nn.unet import InputSizeError

PRESETS = Path(__file__).resolve().parents[1] / "configs" / "inpaint"
WORD_DIM = 256


def preset(name: str) -> dict:
    return yaml.safe_load((PRESETS / f"{name}.yaml").read_text())


TINY = GeneratorConfig(**preset("tiny")["generator"])


def small(**changes) -> GeneratorConfig:
    """The tiny preset with some knobs changed."""
    return dataclasses.replace(TINY, **changes)


def batch(size=32, b=2, t=5, lengths=(3, 0), seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    mask = (torch.rand(b, 1, size, size, generator=g) > 0.6).float()
    mask[:, :, size // 4 : size // 2, size // 4 : 3 * size // 4] = 1
    words = torch.randn(b, WORD_DIM, t, generator=g)
    sentence = torch.randn(b, WORD_DIM, generator=g)
    word_mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    return image, mask, words, sentence, word_mask


def check_outputs(out, cfg, image, t):
    b, _, h, w = image.shape
    for key in ("coarse", "final", "coarse_raw", "final_raw"):
        assert out[key].shape == image.shape, key
    levels = range(cfg.num_fusion_scales - 1, -1, -1) if cfg.use_fusion else [0]
    assert [s.shape[-1] for s in out["scales"]] == [w >> level for level in levels]
    assert out["scales"][-1] is out["final"]
    assert len(out["alphas"]) == (cfg.num_fusion_scales if cfg.use_fusion else 0)
    assert [r.shape[1:] for r in out["raws"]] == [(3, *a.shape[2:]) for a in out["alphas"]]
    n_struct = cfg.num_structure_scales if cfg.use_structure else 0
    assert [s.shape for s in out["structure"]] == [
        (b, 6, h >> level, w >> level) for level in range(n_struct, 0, -1)
    ]
    if cfg.use_text:
        finest = min(cfg.word_attention_levels)
        assert out["word_attention"].shape == (b, t, h >> finest, w >> finest)
        assert out["mu"].shape == out["logvar"].shape == (b, cfg.cond_dim)
        if cfg.use_word_demand:
            assert out["word_weights"].shape == (b, t)
    for key, value in out.items():
        for tensor in value if isinstance(value, list) else [value]:
            assert tensor is None or torch.isfinite(tensor).all(), key


def assert_composited(out, image, mask):
    known = mask == 0
    for key in ("coarse", "final"):
        assert torch.equal(out[key][known.expand_as(image)], image[known.expand_as(image)]), key
    masked = image * (1 - mask)
    for scale in out["scales"]:
        size = tuple(scale.shape[-2:])
        keep = (resize_mask(mask, size) == 0).expand_as(scale)
        assert torch.equal(scale[keep], resize_image(masked, size)[keep])


@pytest.mark.parametrize("size", [32, 64])
def test_tiny_generator_shapes_and_compositing(size):
    torch.manual_seed(0)
    gen = InpaintGenerator(TINY)
    image, mask, words, sentence, word_mask = batch(size)
    out = gen(image, mask, words, sentence, word_mask)
    check_outputs(out, TINY, image, t=5)
    assert_composited(out, image, mask)
    # Padding and the length-0 caption get no attention and no weight.
    assert out["word_attention"][0, 3:].abs().sum() == 0
    assert out["word_attention"][1].abs().sum() == 0
    assert out["word_weights"][0, 3:].abs().sum() == 0 and out["word_weights"][1].sum() == 0


def test_generator_at_128_with_small_config():
    cfg = small(num_levels=4, refine_num_levels=4, word_attention_levels=[3, 2])
    gen = InpaintGenerator(cfg).eval()
    image, mask, words, sentence, word_mask = batch(128, b=1, t=18, lengths=(18,))
    with torch.no_grad():
        out = gen(image, mask, words, sentence, word_mask)
    check_outputs(out, cfg, image, t=18)
    assert_composited(out, image, mask)


VARIANTS = {
    "pix2pix": dict(conv_kind="pix2pix", refine_conv_kind="pix2pix", norm="batch"),
    "dilated-mmfl-like": dict(
        conv_kind="pix2pix", refine_conv_kind="dilated", refine_input="masked_image",
        sentence_level=1, refine_word_attention=False, use_fusion=False, use_structure=False,
        use_attention_layer=False, norm="none",
    ),
    "1x1-bottleneck": dict(
        conv_kind="pix2pix", refine_conv_kind="dilated", num_levels=5, refine_num_levels=5,
        word_attention_levels=[5, 4], attention_level=5,
    ),
    "coarse-only": dict(use_refine=False, num_levels=4, word_attention_levels=[3, 1]),
    "word-attention-at-bottleneck-and-full-size": dict(word_attention_levels=[3, 0]),
    "no-word-demand": dict(use_word_demand=False),
    "image-only": dict(use_text=False),
    "prefill-telea": dict(prefill="telea"),
    "full-resolution-stems": dict(stem=True, refine_stem=True, prefill="telea",
                                  conv_kind="pix2pix"),
    "prefill-pyramid": dict(prefill="pyramid", use_refine=False, num_levels=3,
                            word_attention_levels=[2]),
}  # fmt: skip


@pytest.mark.parametrize("name", VARIANTS)
def test_generator_variants(name):
    torch.manual_seed(0)
    cfg = small(**VARIANTS[name])
    gen = InpaintGenerator(cfg)
    image, mask, words, sentence, word_mask = batch(32)
    text = (None, None, None) if not cfg.use_text else (words, sentence, word_mask)
    out = gen(image, mask, *text)
    check_outputs(out, cfg, image, t=5)
    assert_composited(out, image, mask)
    if not cfg.use_text:
        assert out["word_attention"] is None and out["mu"] is None
        assert out["word_weights"] is None


@pytest.mark.parametrize("t, lengths", [(1, (1, 0)), (18, (18, 0)), (18, (0, 0)), (4, (2, 4))])
def test_caption_lengths_give_finite_outputs_and_gradients(t, lengths):
    torch.manual_seed(0)
    gen = InpaintGenerator(TINY)
    image, mask, words, sentence, word_mask = batch(32, t=t, lengths=lengths)
    words.requires_grad_(True)
    out = gen(image, mask, words, sentence, word_mask)
    check_outputs(out, TINY, image, t=t)
    (out["final"].mean() + out["word_attention"].mean()).backward()
    assert torch.isfinite(words.grad).all()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in gen.parameters())


def test_missing_text_counts_as_empty_caption():
    gen = InpaintGenerator(TINY).eval()
    image, mask, *_ = batch(32)
    out = gen(image, mask)
    assert out["word_attention"].abs().sum() == 0
    assert torch.isfinite(out["final"]).all()


def test_generator_masks_the_image_itself():
    gen = InpaintGenerator(TINY).eval()
    image, mask, words, sentence, word_mask = batch(32)
    leaked = torch.where(mask.bool(), torch.full_like(image, 0.9), image)
    with torch.no_grad():
        a = gen(image, mask, words, sentence, word_mask)
        b = gen(leaked, mask, words, sentence, word_mask)
    assert torch.equal(a["final"] * mask, b["final"] * mask)


@pytest.mark.parametrize("kind", ["pyramid", "telea", "ns"])
def test_prefill_keeps_known_pixels_and_fills_a_flat_image_flat(kind):
    image, mask, *_ = batch(32)
    filled = prefill(kind, image * (1 - mask), mask)
    known = (mask == 0).expand_as(image)
    assert torch.equal(filled[known], image[known])
    flat = torch.full_like(image, 0.2)
    filled = prefill(kind, flat * (1 - mask), mask)
    assert (filled - flat).abs().max() < 0.04  # telea works in uint8 and wobbles by ~3 levels
    with pytest.raises(ValueError, match="unknown prefill"):
        prefill("zeros", image, mask)


def test_opencv_prefill_on_threads_matches_the_serial_fill_image_by_image():
    torch.manual_seed(3)
    image = torch.rand(6, 3, 32, 32) * 2 - 1
    mask = (torch.rand(6, 1, 32, 32) < torch.linspace(0.1, 0.6, 6)[:, None, None, None]).float()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        serial = prefill("ns", image, mask)
        torch.set_num_threads(4)
        threaded = prefill("ns", image, mask)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(serial, threaded)
    # each image got its own fill, in order (not its neighbour's)
    alone = prefill("ns", image[4:5], mask[4:5])
    assert torch.equal(threaded[4:5], alone)


@pytest.mark.parametrize("kind", ["pyramid", "telea", "ns"])
def test_prefilled_generator_never_sees_hole_pixels(kind):
    gen = InpaintGenerator(small(prefill=kind)).eval()
    image, mask, words, sentence, word_mask = batch(32)
    leaked = torch.where(mask.bool(), torch.full_like(image, 0.9), image)
    with torch.no_grad():
        a = gen(image, mask, words, sentence, word_mask)
        b = gen(leaked, mask, words, sentence, word_mask)
    assert torch.equal(a["final"], b["final"])


@pytest.mark.parametrize("base", ["guess", "known", "coarse"])
def test_fusion_blends_with_the_configured_base(base):
    """The last stage's finest fusion block receives the guess, the masked image or the
    coarse composite as what it blends its completion with."""
    torch.manual_seed(0)
    gen = InpaintGenerator(small(prefill="telea", fusion_base=base)).eval()
    image, mask, words, sentence, word_mask = batch(32)
    seen = {}
    gen.refine.fusion["0"].register_forward_hook(
        lambda module, args, output: seen.update(base=args[1]))
    with torch.no_grad():
        out = gen(image, mask, words, sentence, word_mask)
    known = image * (1 - mask)
    expected = {"guess": prefill("telea", known, mask), "known": known, "coarse": out["coarse"]}
    assert torch.allclose(seen["base"], expected[base])
    assert torch.equal(out["final"] * (1 - mask), known)


def test_stem_gives_the_finest_decoder_level_a_full_resolution_skip():
    plain = InpaintGenerator(small())
    stemmed = InpaintGenerator(small(stem=True, refine_stem=True))
    for stage in ("coarse", "refine"):
        a, b = getattr(plain, stage), getattr(stemmed, stage)
        assert a.stem is None and not a._has_skip(0)
        assert b.stem is not None and b._has_skip(0)
    # The finest fusion block reads the upsampled feature and the level-0 skip.
    width = stemmed.refine.fusion["0"].to_rgb.in_channels
    assert width == 2 * plain.refine.fusion["0"].to_rgb.in_channels


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    gen = InpaintGenerator(TINY)
    out = gen(*batch(32))
    loss = out["final"].mean() + sum(s.mean() for s in out["structure"] + out["scales"])
    loss.backward()
    missing = [n for n, p in gen.named_parameters() if p.grad is None]
    assert not missing


def test_size_that_does_not_fit_the_levels_is_a_clear_value_error():
    gen = InpaintGenerator(TINY)
    image, mask, *_ = batch(36)
    with pytest.raises(InputSizeError, match="divisible by 2\\*\\*num_levels = 8"):
        gen(image, mask)
    assert issubclass(InputSizeError, ValueError)


@pytest.mark.parametrize(
    "changes, key",
    [
        (dict(conv_kind="gated"), "conv_kind"),
        (dict(attention_level=4), "attention_level"),
        (dict(num_fusion_scales=5), "num_fusion_scales"),
        (dict(word_attention_levels=[4]), "word_attention_levels"),
        (dict(word_attention_levels=[]), "use_word_demand"),
        (dict(prefill="zeros"), "prefill"),
        (dict(fusion_base="image"), "fusion_base"),
        (dict(fusion_base="coarse", use_refine=False), "fusion_base"),
        (dict(word_demand_norm="tanh"), "word_demand_norm"),
    ],
)
def test_bad_generator_config_names_the_key(changes, key):
    with pytest.raises(ConfigError, match=key):
        small(**changes)


@pytest.mark.parametrize("name", ["tiny", "mmfl", "full", "image-only"])
def test_presets_build(name):
    data = preset(name)
    assert {"generator", "discriminator"} <= set(data)
    cfg = from_dict(GeneratorConfig, data["generator"])
    assert cfg == GeneratorConfig(**data["generator"])
    DiscriminatorConfig(**data["discriminator"])
    with torch.device("meta"):  # no memory, no initialisation: counting is all we need
        n = count_parameters(InpaintGenerator(cfg))
    low, high = {"tiny": (5e3, 1.5e5), "mmfl": (1.2e8, 1.6e8)}.get(name, (2e6, 2e7))
    assert low < n < high
    if name != "mmfl":  # MMFL's 8 levels need 256 px: too slow for a unit test
        image, mask, words, sentence, word_mask = batch(32, b=1, lengths=(2,))
        with torch.no_grad():
            out = InpaintGenerator(cfg).eval()(image, mask, words, sentence, word_mask)
        check_outputs(out, cfg, image, t=5)


def test_count_parameters():
    layer = torch.nn.Linear(3, 2)
    layer.bias.requires_grad_(False)
    assert count_parameters(layer) == 8 and count_parameters(layer, trainable_only=True) == 6


# --- layers ---------------------------------------------------------------------------


def test_word_attention_masks_padding_and_empty_captions():
    torch.manual_seed(0)
    layer = WordAttention(16, 32)
    image, words = torch.randn(3, 16, 4, 5), torch.randn(3, 32, 6)
    word_mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1] * 6, [0] * 6], dtype=torch.bool)
    context, attn = layer(image, words, word_mask)
    assert context.shape == (3, 16, 4, 5) and attn.shape == (3, 6, 4, 5)
    assert torch.equal(attn[0, 3:], torch.zeros(3, 4, 5))
    assert torch.allclose(attn[:2].sum(1), torch.ones(2, 4, 5))
    assert torch.equal(attn[2], torch.zeros(6, 4, 5)) and torch.equal(context[2], context[2] * 0)
    # Changing a padding word changes nothing.
    words2 = words.clone()
    words2[0, :, 4] = 100
    assert torch.equal(layer(image, words2, word_mask)[0][0], context[0])


def test_hole_position_places_each_cell_in_the_holes_box():
    mask = torch.zeros(2, 1, 32, 32)
    mask[0, :, 8:24, 4:12] = 1  # rows 8..24, columns 4..12
    where = hole_position(mask, (4, 4))  # cells of 8 pixels: centres 4, 12, 20, 28
    assert where.shape == (2, 3, 4, 4)
    assert torch.allclose(where[0, 0, :, 0], torch.tensor([-1.5, -0.5, 0.5, 1.5]))
    assert torch.allclose(where[0, 1, 0], torch.tensor([-1.0, 1.0, 2.0, 2.0]))  # clipped at 2
    assert torch.equal(where[0, 2], resize_mask(mask[:1], (4, 4))[0, 0])
    # no hole: the frame is the box
    assert torch.allclose(where[1, 0, :, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    assert where[1, 2].sum() == 0


def test_word_attention_position_starts_as_the_model_it_extends(tmp_path):
    """The hole-position term is zero at first, so a trained generator loaded into one with
    it (``load_weights(new=...)``) answers exactly as before; once trained, the top and the
    bottom of a hole read different words."""
    torch.manual_seed(0)
    plain = InpaintGenerator(TINY).eval()
    with_position = InpaintGenerator(small(word_attention_position=True)).eval()
    save_weights(plain, tmp_path / "g.safetensors")
    with pytest.raises(UserError, match="missing"):
        load_weights(with_position, tmp_path / "g.safetensors")
    load_weights(with_position, tmp_path / "g.safetensors", new=r"\.where\.")
    inputs = batch(32, lengths=(5, 3))
    with torch.no_grad():
        assert torch.equal(plain(*inputs)["final"], with_position(*inputs)["final"])
        for module in with_position.modules():
            if isinstance(module, WordAttention) and module.where is not None:
                module.where.weight.normal_()
        attention = with_position(*inputs)["word_attention"][0]
    assert not torch.allclose(attention[:, 0], attention[:, -1], atol=1e-4)


def test_word_colour_head_starts_at_zero_and_colours_the_hole_only(tmp_path):
    """The word-colour head is zero at first (a trained generator loads into one with it and
    answers as before); once it has weights, the fill changes inside the hole only, and a
    hole loss reaches the head of both stages."""
    torch.manual_seed(0)
    plain = InpaintGenerator(TINY).eval()
    cfg = small(word_colour_head=True, word_attention_position=True)
    coloured = InpaintGenerator(cfg).eval()
    save_weights(plain, tmp_path / "g.safetensors")
    with pytest.raises(UserError, match="missing"):
        load_weights(coloured, tmp_path / "g.safetensors", new=r"\.where\.")
    load_weights(coloured, tmp_path / "g.safetensors", new=zero_start_params(cfg))
    inputs = batch(32, lengths=(5, 3))
    image, mask = inputs[:2]
    out = coloured(*inputs)
    before = out["final"].detach()
    with torch.no_grad():
        assert torch.equal(plain(*inputs)["final"], before)
    ((out["final_raw"] * mask).abs().mean() + (out["coarse_raw"] * mask).abs().mean()).backward()
    heads = [(name, p) for name, p in coloured.named_parameters() if ".colour." in name]
    assert {name.split(".")[0] for name, _ in heads} == {"coarse", "refine"}
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for _, p in heads)
    with torch.no_grad():
        for _, p in heads:
            p.normal_()
        after = coloured(*inputs)["final"]
    known = mask.expand_as(image) == 0
    assert torch.equal(after[known], before[known])
    assert (after - before)[~known].abs().mean() > 1e-2


def test_word_demand_weights_are_zero_on_padding_and_start_as_identity():
    torch.manual_seed(0)
    layer = WordDemand(16, 32)
    image, words = torch.randn(2, 16, 4, 4), torch.randn(2, 32, 5)
    word_mask = torch.tensor([[1, 1, 0, 0, 0], [0] * 5], dtype=torch.bool)
    out, weights = layer(image, words, word_mask)
    assert weights.shape == (2, 5)
    assert torch.equal(weights[0, 2:], torch.zeros(3)) and torch.equal(weights[1], torch.zeros(5))
    assert ((weights[0, :2] > 0) & (weights[0, :2] < 1)).all()
    assert torch.equal(out[0, :, :2], words[0, :, :2]) and out[:, :, 2:].abs().sum() == 0
    with torch.no_grad():
        layer.gamma.fill_(1.0)
    out, weights = layer(image, words, word_mask)
    expected = words[0, :, :2] * 2 * weights[0, :2]
    assert torch.allclose(out[0, :, :2], expected, atol=1e-6)


def test_softmax_word_demand_makes_words_compete_and_keeps_a_uniform_caption():
    torch.manual_seed(0)
    layer = WordDemand(16, 32, normalize="softmax")
    image, words = torch.randn(2, 16, 4, 4), torch.randn(2, 32, 5)
    word_mask = torch.tensor([[1, 1, 1, 0, 0], [0] * 5], dtype=torch.bool)
    out, weights = layer(image, words, word_mask)
    assert torch.allclose(weights[0].sum(), torch.tensor(1.0)) and torch.equal(weights[1],
                                                                               torch.zeros(5))
    assert torch.equal(weights[0, 3:], torch.zeros(2)) and out.isfinite().all()
    assert torch.equal(out[0, :, :3], words[0, :, :3])  # gamma 0: the identity
    with torch.no_grad():
        layer.gamma.fill_(0.5)
    out, weights = layer(image, words, word_mask)
    factor = 1 + 0.5 * (3 * weights[0, :3] - 1)
    assert torch.allclose(out[0, :, :3], words[0, :, :3] * factor, atol=1e-6)
    # The most demanded word is amplified, the least damped: they compete.
    assert factor.max() > 1 > factor.min()
    with pytest.raises(ValueError, match="normalize"):
        WordDemand(16, 32, normalize="tanh")


def test_non_local_attention_is_identity_at_init_and_reads_only_known_keys():
    torch.manual_seed(0)
    layer = NonLocalAttention(32)
    x = torch.randn(2, 32, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, :4] = 1  # top half is hole (aligned with the 2×2 pooling)
    assert torch.equal(layer(x, mask), x)
    with torch.no_grad():
        layer.gamma.fill_(1.0)
    out = layer(x, mask)
    assert not torch.equal(out, x)
    y = x.clone()
    y[:, :, :4] += torch.randn(2, 32, 4, 8)  # change only hole features
    assert torch.allclose(layer(y, mask)[:, :, 4:], out[:, :, 4:], atol=1e-6)
    all_hole = layer(x, torch.ones(2, 1, 8, 8))
    assert torch.allclose(all_hole, layer(x), atol=1e-6)
    assert torch.isfinite(layer(torch.randn(1, 32, 1, 1), torch.ones(1, 1, 1, 1))).all()


def test_conditioning_augmentation_and_kl():
    torch.manual_seed(0)
    ca = ConditioningAugmentation(256, 100)
    sentence = torch.randn(4, 256)
    c, mu, logvar = ca(sentence)
    assert c.shape == mu.shape == logvar.shape == (4, 100) and not torch.equal(c, mu)
    ca.eval()
    c, mu, _ = ca(sentence)
    assert torch.equal(c, mu)
    assert kl_loss(torch.zeros(3, 5), torch.zeros(3, 5)) == 0
    assert torch.isclose(kl_loss(torch.ones(3, 5), torch.zeros(3, 5)), torch.tensor(0.5))


def test_fusion_block_completion_keeps_known_pixels():
    torch.manual_seed(0)
    block = FusionBlock(8)
    image = torch.rand(2, 3, 16, 16) * 2 - 1
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 3:9, 5:12] = 1
    masked = image * (1 - mask)
    completion, alpha, raw, blend = block(torch.randn(2, 8, 8, 8), masked, mask)
    assert completion.shape == raw.shape == blend.shape == (2, 3, 8, 8)
    assert alpha.shape == (2, 1, 8, 8) and ((alpha > 0) & (alpha < 1)).all()
    keep = (resize_mask(mask, (8, 8)) == 0).expand_as(completion)
    assert torch.equal(completion[keep], resize_image(masked, (8, 8))[keep])
    assert torch.equal(completion[~keep], blend[~keep])


# --- discriminator --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["pair", "single"])
@pytest.mark.parametrize("use_sentence", [False, True])
def test_discriminator_shapes_and_gradients(mode, use_sentence):
    torch.manual_seed(0)
    cfg = DiscriminatorConfig(
        input_mode=mode, base_channels=8, max_channels=32, n_layers=2, use_sentence=use_sentence
    )
    disc = PatchDiscriminator(cfg)
    image, mask, _, sentence, _ = batch(32)
    image.requires_grad_(True)
    logits = disc(image, mask, sentence)
    assert logits.shape == (2, 1, 6, 6)
    logits.mean().backward()
    assert torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0
    layers = [m for m in disc.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert all(is_parametrized(m, "weight") for m in layers)
    if use_sentence:
        assert not torch.equal(disc(image, mask, sentence), disc(image, mask, None))


def test_discriminator_projection_is_the_mean_patch_feature_against_the_sentence():
    # Miyato & Koyama's term per logit: <embed(s), mean of the 2x2 feature cells under it>.
    torch.manual_seed(0)
    disc = PatchDiscriminator(DiscriminatorConfig(base_channels=8, max_channels=32, n_layers=2,
                                                  use_sentence=True)).eval()
    image, mask, _, sentence, _ = batch(32)
    with torch.no_grad():
        h = disc.features(torch.cat([image, image * (1 - mask)], dim=1))
        pooled = torch.nn.functional.avg_pool2d(h, kernel_size=2, stride=1)
        expected = disc.to_logit(h) + (disc.embed(sentence)[:, :, None, None] * pooled).sum(
            1, keepdim=True)
        assert torch.allclose(disc(image, mask, sentence), expected, atol=1e-5)


def test_discriminator_rejects_too_small_inputs_and_bad_modes():
    disc = PatchDiscriminator(DiscriminatorConfig(base_channels=4, n_layers=3))
    with pytest.raises(InputSizeError, match="at least 24"):
        disc(torch.zeros(1, 3, 16, 16), torch.zeros(1, 1, 16, 16))
    with pytest.raises(ConfigError, match="input_mode"):
        DiscriminatorConfig(input_mode="triple")
