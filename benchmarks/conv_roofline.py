"""How close the training step's heaviest convolutions run to this machine's matmul peak.

A profile of the ``full`` preset's step at 128 px (``torch.profiler``, batch 8) puts three
quarters of the CPU time in convolutions, most of it in the patch discriminator's 4×4
layers. This script times those layers (forward + backward, the shapes the step uses) and a
large fp32 matmul, and prints each layer's multiply-adds per second beside the matmul's: a
layer near the matmul's rate cannot be made much faster by settings, only by doing less
arithmetic.

    python benchmarks/conv_roofline.py
    python benchmarks/conv_roofline.py --threads 1 --repeats 10
"""

from __future__ import annotations

import argparse
import time

import torch

# (what, batch, in channels, out channels, input side, kernel, stride, padding): the
# discriminator's three heaviest layers on real + fake (batch 16) and two of the generator's
# (batch 8): one at the 4×4 bottleneck, one at full resolution.
LAYERS = (
    ("D 256→512, 4×4 s1, 16×16", 16, 256, 512, 16, 4, 1, 1),
    ("D 128→256, 4×4 s2, 32×32", 16, 128, 256, 32, 4, 2, 1),
    ("D 64→128, 4×4 s2, 64×64", 16, 64, 128, 64, 4, 2, 1),
    ("G 256→256, 3×3, 4×4 bottleneck", 8, 256, 256, 4, 3, 1, 1),
    ("G 16→16, 3×3, 128×128", 8, 16, 16, 128, 3, 1, 1),
)


def time_conv(batch, cin, cout, side, kernel, stride, pad, channels_last, repeats):
    """Milliseconds and GMAC/s of one forward + backward (input and weight gradients)."""
    conv = torch.nn.Conv2d(cin, cout, kernel, stride, pad)
    x = torch.randn(batch, cin, side, side)
    if channels_last:
        conv, x = conv.to(memory_format=torch.channels_last), x.to(
            memory_format=torch.channels_last)
    x.requires_grad_(True)
    for i in range(repeats + 2):  # two warm-up passes
        if i == 2:
            start = time.perf_counter()
        out = conv(x)
        out.sum().backward()
    seconds = (time.perf_counter() - start) / repeats
    side_out = out.shape[-1]
    # Forward, input gradient and weight gradient: three times the forward's multiply-adds.
    macs = 3 * batch * cout * side_out * side_out * cin * kernel * kernel
    return seconds * 1e3, macs / seconds / 1e9


def time_matmul(n: int, repeats: int) -> float:
    """GMAC/s of an n×n fp32 matmul: the machine's practical peak for dense arithmetic."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return n**3 * repeats / (time.perf_counter() - start) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peak = time_matmul(2048, args.repeats)
    print(f"{torch.get_num_threads()} thread(s); fp32 matmul 2048×2048: {peak:.1f} GMAC/s\n")
    print("| layer | layout | ms (fwd+bwd) | GMAC/s | of matmul peak |")
    print("|---|---|---|---|---|")
    for what, *shape in LAYERS:
        for channels_last in (False, True):
            ms, rate = time_conv(*shape, channels_last, args.repeats)
            layout = "channels_last" if channels_last else "NCHW"
            print(f"| {what} | {layout} | {ms:.1f} | {rate:.1f} | {rate / peak:.0%} |")


if __name__ == "__main__":
    main()
