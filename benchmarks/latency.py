"""End-to-end latency of a model folder through ``InpaintPipeline``: what a user waits for.

Unlike ``speed.py`` (one preset's generator with random weights), this times the whole call
of a real model folder: caption tokenising and text encoding, the classical prefill, the
generator, resizing and compositing. Inputs: a random image with a centre hole at the model's
resolution, and a 500×375 one (a typical CUB photo) that the pipeline resizes down and back.
Median of ``--repeats`` calls after one warm-up, batch 1, for each torch thread count.

    python benchmarks/latency.py --model models/birds-128 --threads 1,2 [--flip-ensemble]
    python benchmarks/latency.py --model models/birds-256 --device cuda --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from textinpaint.pipeline import InpaintPipeline

CAPTION = "this bird has a bright red crown and a white belly"


def centre_hole_input(width: int, height: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random RGB image and a hole over its central quarter (white = hole)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    hole = np.zeros((height, width), dtype=np.uint8)
    hole[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 255
    return image, hole


def median_seconds(pipe: InpaintPipeline, image, hole, repeats: int) -> float:
    """Median wall time of ``repeats`` pipeline calls after one untimed warm-up (each call
    returns images on the CPU, so a GPU's work is done when it returns)."""
    pipe(prompt=CAPTION, image=image, mask_image=hole)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        pipe(prompt=CAPTION, image=image, mask_image=hole)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=Path("models/birds-128"))
    p.add_argument("--threads", default="1,2", help="comma list of torch thread counts")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU")
    p.add_argument("--flip-ensemble", action="store_true",
                   help="also time the flip self-ensemble (two passes per window)")
    args = p.parse_args(argv)
    pipe = InpaintPipeline.from_pretrained(args.model, device=args.device)
    pipes = {"off": pipe}
    if args.flip_ensemble:  # the same weights, mirrored pass added
        pipes["on"] = InpaintPipeline(pipe.model_for(True))
    size = pipe.resolution
    inputs = {f"{size}×{size}": centre_hole_input(size, size),
              "500×375": centre_hole_input(500, 375)}
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"model {args.model} on {where}, batch 1, centre hole, median of {args.repeats} calls")
    print("| input | torch threads | flip ensemble | latency (s) |")
    print("|---|---|---|---|")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for name, (image, hole) in inputs.items():
            for flip, timed in pipes.items():
                seconds = median_seconds(timed, image, hole, args.repeats)
                print(f"| {name} | {threads} | {flip} | {seconds:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
