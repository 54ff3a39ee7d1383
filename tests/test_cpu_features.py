import pytest

from textinpaint.training.cpu_features import cpu_has_bf16, use_cpu_bf16

WITH = "processor : 0\nflags : fpu sse avx512f avx512_bf16\n"
WITHOUT = "processor : 0\nflags : fpu sse avx2\n"


def test_detects_bf16_flag():
    assert cpu_has_bf16(WITH) and not cpu_has_bf16(WITHOUT)


def test_setting_resolves():
    assert use_cpu_bf16("auto", WITH) and not use_cpu_bf16("auto", WITHOUT)
    assert use_cpu_bf16("on", WITHOUT) and not use_cpu_bf16("off", WITH)
    with pytest.raises(ValueError):
        use_cpu_bf16("maybe")


def test_one_process_makes_accelerators_of_both_precisions():
    """train-recipe trains the DAMSM in fp32 and then inpaints in bf16 (on CPUs with bf16)
    in one process; accelerate alone refuses the second precision."""
    from textinpaint.training.runtime import make_accelerator

    assert make_accelerator(cpu=True).mixed_precision == "no"
    assert make_accelerator(cpu=True, mixed_precision="bf16").mixed_precision == "bf16"
    assert make_accelerator(cpu=True).mixed_precision == "no"
