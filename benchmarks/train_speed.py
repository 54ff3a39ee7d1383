"""Images per second of the whole training step (discriminator + generator, every loss).

Each row builds the real :class:`InpaintTrainer` (the preset's generator, discriminator,
losses and optimisers, the frozen DAMSM of a shipped model) in a fresh subprocess and times
``train_step`` on batches from the real data path, after warm-up steps. The data path's own
time (loading, masks, prefill) is counted apart, so the table shows what the step waits on.

Modes: ``fp32`` (today's CPU setting), ``channels_last`` (both networks in NHWC memory order)
and ``bf16`` (autocast; on a CPU only where /proc/cpuinfo lists avx512_bf16 or amx_bf16,
since without them bf16 runs slower than fp32). A mode this machine cannot run is listed as
not measured, with the reason.

    python benchmarks/train_speed.py                                  # full, 128 px, CPU
    python benchmarks/train_speed.py --presets tiny,full --resolutions 64,128 --steps 6
    python benchmarks/train_speed.py --dataset cub:../shared/data/cub --damsm models/birds-128

On a GPU the table adds the device's busy fraction (CUDA-event time of the step over its
wall time) and peak memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("fp32", "channels_last", "bf16")


def cpu_has_bf16() -> bool:
    """True where the CPU has native bf16 matrix instructions (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def measure(preset: str, resolution: int, mode: str, args) -> dict:
    """One row, in this process (run by :func:`main` in a subprocess per row)."""
    import torch

    from textinpaint.config import load_config
    from textinpaint.data import collate
    from textinpaint.presets import preset_path
    from textinpaint.training.inpaint import InpaintTrainer
    from textinpaint.training.inpaint_config import InpaintConfig

    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    overrides = [f"resolution={resolution}", f"train.batch_size={args.batch}",
                 f"train.bf16={'true' if mode == 'bf16' else 'false'}", "train.checkpoint_every=0",
                 "train.sample_every=0"]
    cfg = load_config(InpaintConfig, preset_path("inpaint", preset), overrides)
    trainer = InpaintTrainer(cfg, args.dataset, ROOT / args.damsm, "/tmp/textinpaint-speed",
                             preset)
    if mode == "channels_last":
        trainer.G.to(memory_format=torch.channels_last)
        trainer.D.to(memory_format=torch.channels_last)
    # CPU bf16 autocast: Accelerate's mixed precision is GPU-only here, so wrap the step.
    cpu_bf16 = mode == "bf16" and not cuda
    data_s, step_s, busy_s = 0.0, 0.0, 0.0
    total = args.warmup + args.steps
    for i in range(total):
        t0 = time.perf_counter()
        items = [trainer.dataset[(i * args.batch + k) % len(trainer.dataset)]
                 for k in range(args.batch)]
        batch = collate(items)
        t1 = time.perf_counter()
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_bf16):
            trainer.train_step(batch)
        if cuda:
            end.record()
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        if i >= args.warmup:
            data_s += t1 - t0
            step_s += t2 - t1
            if cuda:
                busy_s += start.elapsed_time(end) / 1000
    images = args.steps * args.batch
    row = {"preset": preset, "resolution": resolution, "mode": mode,
           "device": torch.cuda.get_device_name(0) if cuda else f"CPU, {args.threads} thread(s)",
           "step_images_per_s": images / step_s,
           "with_data_images_per_s": images / (step_s + data_s),
           "data_share": data_s / (step_s + data_s)}
    if cuda:
        row["gpu_busy"] = busy_s / step_s
        row["peak_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", default="full")
    p.add_argument("--resolutions", default="128")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--dataset", default="shapes", help="shapes (no files needed) or cub:PATH")
    p.add_argument("--damsm", default="models/shapes-64",
                   help="a model or DAMSM folder whose vocabulary fits --dataset")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: preset,resolution,mode
    args = p.parse_args()
    if args.one:
        preset, resolution, mode = args.one.split(",")
        print(json.dumps(measure(preset, int(resolution), mode, args)))
        return

    import torch

    rows, skipped = [], []
    for preset in args.presets.split(","):
        for resolution in (int(r) for r in args.resolutions.split(",")):
            for mode in args.modes.split(","):
                if mode == "bf16" and not torch.cuda.is_available() and not cpu_has_bf16():
                    skipped.append(f"{preset} {resolution} px bf16: this CPU has no avx512_bf16 "
                                   "or amx_bf16 (bf16 would run slower than fp32)")
                    continue
                argv = [sys.executable, __file__, "--one", f"{preset},{resolution},{mode}",
                        *[f"--{k}={getattr(args, k)}" for k in
                          ("dataset", "damsm", "batch", "steps", "warmup", "threads")]]
                done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
                if done.returncode:
                    skipped.append(f"{preset} {resolution} px {mode}: failed "
                                   f"({done.stderr.strip().splitlines()[-1][:160]})")
                    continue
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"batch {args.batch}, {args.steps} timed steps after {args.warmup} warm-up, "
          f"dataset {args.dataset}\n")
    gpu = any("gpu_busy" in r for r in rows)
    print("| preset | px | mode | device | step img/s | with data img/s | data share |"
          + (" GPU busy | peak GB |" if gpu else ""))
    print("|---|---|---|---|---|---|---|" + ("---|---|" if gpu else ""))
    for r in rows:
        extra = f" {r['gpu_busy']:.0%} | {r['peak_gb']:.1f} |" if gpu else ""
        print(f"| {r['preset']} | {r['resolution']} | {r['mode']} | {r['device']} | "
              f"{r['step_images_per_s']:.2f} | {r['with_data_images_per_s']:.2f} | "
              f"{r['data_share']:.0%} |{extra}")
    if not torch.cuda.is_available():
        skipped.append("GPU rows: no CUDA device here")
    for line in skipped:
        print(f"not measured: {line}")


if __name__ == "__main__":
    main()
