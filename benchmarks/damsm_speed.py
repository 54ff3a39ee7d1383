"""DAMSM training throughput: images per second of one optimiser step of the encoders.

For each DAMSM preset in ``configs/damsm/`` (``shapes-64``, ``cub-128``, ...), each thread
count and each mode (fp32, or the image encoder under bf16 autocast: ``train.bf16``), a
fresh subprocess builds the preset's encoders and times the step ``train-damsm`` makes
(word + sentence losses forward, backward, gradient clipping, fused Adam) on a random batch
of the preset's size: images in [-1, 1] and captions of random words and lengths. Data
loading is not timed (``train-damsm`` renders or reads it in a worker), so the figures are
an upper bound of a real run's images/s.

    python benchmarks/damsm_speed.py                           # every preset, 1 and 2 threads
    python benchmarks/damsm_speed.py --presets shapes-64 --threads 2 --steps 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("fp32", "bf16")
VOCAB = 200  # words; the embedding size barely changes the step time


def measure(preset: str, mode: str, threads: int, steps: int) -> dict:
    """Time ``steps`` training steps of ``preset`` (run inside the subprocess)."""
    import torch

    from textinpaint.config import load_config
    from textinpaint.training.damsm import (
        DamsmTrainConfig,
        build_encoders,
        build_optimizer,
        damsm_losses,
    )

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = load_config(DamsmTrainConfig, ROOT / "configs" / "damsm" / f"{preset}.yaml",
                      [f"train.bf16={mode == 'bf16'}"])
    text, image = build_encoders(cfg, VOCAB)
    params = list(text.parameters()) + list(image.parameters())
    optimizer = build_optimizer(params, cfg.train)
    b, res, t = cfg.train.batch_size, cfg.data.resolution, cfg.data.max_len
    lengths = torch.randint(3, t + 1, (b,))
    tokens = torch.randint(2, VOCAB, (b, t)) * (torch.arange(t) < lengths[:, None])
    batch = {"image": torch.rand(b, 3, res, res) * 2 - 1, "tokens": tokens, "length": lengths,
             "class_id": torch.arange(b)}

    def step() -> float:
        t0 = time.perf_counter()
        loss = damsm_losses(text, image, batch, cfg.train)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
        optimizer.step()
        return time.perf_counter() - t0

    for _ in range(3):  # warm-up: allocator, oneDNN kernels
        step()
    seconds = statistics.median(step() for _ in range(steps))
    return {"preset": preset, "resolution": res, "batch": b, "mode": mode, "threads": threads,
            "ms_per_step": 1000 * seconds, "images_per_s": b / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    presets = sorted(p.stem for p in (ROOT / "configs" / "damsm").glob("*.yaml"))
    parser.add_argument("--presets", default="shapes-64,cub-128",
                        help=f"comma-separated, of: {', '.join(presets)}")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (median taken)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement as JSON
    args = parser.parse_args()
    if args.one:
        preset, mode, threads = args.one.split(":")
        print(json.dumps(measure(preset, mode, int(threads), args.steps)))
        return

    rows = []
    for preset in args.presets.split(","):
        if preset not in presets:
            sys.exit(f"--presets: unknown DAMSM preset '{preset}'; choose from {presets}")
        for threads in args.threads.split(","):
            for mode in args.modes.split(","):
                out = subprocess.run([sys.executable, __file__, "--steps", str(args.steps),
                                      "--one", f"{preset}:{mode}:{threads}"],
                                     capture_output=True, text=True, check=True)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| preset | px | batch | mode | threads | ms/step | images/s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['resolution']} | {r['batch']} | {r['mode']} | "
              f"{r['threads']} | {r['ms_per_step']:.0f} | {r['images_per_s']:.0f} |")


if __name__ == "__main__":
    main()
