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
