"""textinpaint: text-guided image inpainting (MMFL + DFNet fusion + structure knowledge)."""

__version__ = "0.1.0"
