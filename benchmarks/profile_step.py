"""Where the time of one training step goes: phases and operators, from torch.profiler.

Builds the same trainer as ``benchmarks/train_speed.py`` for one mode (one process), runs
warm-up steps, then profiles a few ``train_step`` calls and prints two tables: the step's
phases (the ``record_function`` labels in ``InpaintTrainer.train_step``; their times include
the operators they call) and the operators with the most self time.

    python benchmarks/profile_step.py --dataset cub:../shared/data/cub --damsm models/birds-128 \\
        --mode bf16+keep_memory+lean
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_speed import MODES, build_trainer  # noqa: E402 (after the path)

PHASES = ("text encoder", "generator forward", "discriminator update",
          "discriminator on reals", "discriminator on fake", "structure loss", "matching loss",
          "generator backward", "generator update and EMA")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="full")
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--mode", default="bf16+keep_memory+lean",
                   help=f"one train_speed mode: {', '.join(MODES)}, joined by '+'")
    p.add_argument("--dataset", default="shapes")
    p.add_argument("--damsm", default="models/shapes-64")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=4, help="profiled steps")
    p.add_argument("--warmup", type=int, default=4)
    p.add_argument("--top", type=int, default=15, help="operators to list")
    args = p.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    trainer, _ = build_trainer(args.preset, args.resolution, args.mode, args)
    batches = trainer.batches(0, 0)

    def step():
        trainer.train_step(next(batches))
        trainer.read_terms({})  # waits for the device, as a logging step does
        trainer.step += 1

    for _ in range(args.warmup):
        step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                           if torch.cuda.is_available() else [])
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            step()
    events = {e.key: e for e in prof.key_averages()}
    total = sum(e.self_cpu_time_total for e in events.values())
    print(f"{args.preset}, {args.resolution} px, mode {args.mode}, batch {args.batch}, "
          f"{args.steps} profiled steps, {torch.get_num_threads()} thread(s): "
          f"{total / args.steps / 1000:.0f} ms a step\n")
    print("| phase | ms a step | share |\n|---|---|---|")
    for name in PHASES:
        if name in events:
            ms = events[name].cpu_time_total / args.steps / 1000
            print(f"| {name} | {ms:.0f} | {events[name].cpu_time_total / total:.1%} |")
    ops = sorted((e for k, e in events.items() if k not in PHASES),
                 key=lambda e: e.self_cpu_time_total, reverse=True)[:args.top]
    print("\n| operator | calls a step | self ms a step | share |\n|---|---|---|---|")
    for e in ops:
        print(f"| {e.key} | {e.count / args.steps:.0f} | "
              f"{e.self_cpu_time_total / args.steps / 1000:.1f} | "
              f"{e.self_cpu_time_total / total:.1%} |")


if __name__ == "__main__":
    main()
