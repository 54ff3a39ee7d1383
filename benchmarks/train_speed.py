"""Images per second of the whole training step (discriminator + generator, every loss).

Each row builds the real :class:`InpaintTrainer` (the preset's generator, discriminator,
losses and optimisers, the frozen DAMSM of a shipped model) in fresh processes and times
``train_step`` on batches from the trainer's own data path (:meth:`InpaintTrainer.batches`),
after warm-up steps. The time spent waiting for the next batch is counted apart, so the table
shows what the step waits on. All rows run one after the other in one invocation, so they are
measured side by side on the same machine.

Settings (``--modes``), each at the same global batch:

* ``today``: the loop's settings before issue 27 on a CPU: one process with torch's default
  threads (every core), the per-sample loader, fp32, glibc's default handling of freed memory.
* ``fast``: the fastest CPU settings found: ``today`` with freed memory kept for reuse
  (``train.keep_freed_memory``, the trainer's default now), the split resident in memory
  with masks made in torch (``train.data=device``) and bf16 autocast where the CPU has bf16
  instructions (``train.cpu_bf16=auto``, the default). On a GPU: ``train.data=device``, bf16,
  channels-last, fused Adam (the trainer's ``auto`` settings there).
* ``ddp``: ``fast`` as one process per core with one thread each, data-parallel under
  ``torchrun`` (gloo), at the same global batch.
* ``one_thread``, ``keep_memory``, ``channels_last``, ``bf16``, ``compile``: ``today``
  with one change each, to show what each is worth; ``a+b`` combines them in that order
  (``bf16+ddp``, ``bf16+channels_last``). ``bf16`` on a CPU only runs where
  /proc/cpuinfo lists avx512_bf16 or amx_bf16 (without them bf16 runs slower than fp32); a
  mode this machine cannot run is listed as not
  measured, with the reason.
* ``lean``, ``lean3`` and ``narrow_d``: changes to the GAN's recipe, not only to how it runs
  (their quality is checked apart): the discriminator updated on every second (third) step
  only (``train.d_every=2``, ``3``) and its widest layers capped at 256 channels
  (``discriminator.max_channels=256``).

    python benchmarks/train_speed.py                                  # full, 128 px, today vs fast
    python benchmarks/train_speed.py --modes today,fast,channels_last,compile --steps 12
    python benchmarks/train_speed.py --modes today,bf16,bf16+lean,bf16+lean+narrow_d
    python benchmarks/train_speed.py --dataset cub:../shared/data/cub --damsm models/birds-128

On a GPU the table adds the device's busy fraction (CUDA-event time of the steps over their
wall time) and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from textinpaint.training.runtime import available_cpus  # noqa: E402 (after the path)

MODES = ("today", "fast", "ddp", "one_thread", "keep_memory", "channels_last", "bf16", "compile",
         "lean", "lean3", "narrow_d")


# "today": the settings every row starts from (bf16 keeps its default: on for GPUs, as before).
TODAY = {"train.data": "loader", "train.channels_last": "off", "train.cpu_bf16": "off",
         "train.compile": "false", "train.keep_freed_memory": "false"}


def setting(mode: str, batch: int, cuda: bool) -> dict:
    """Processes, threads per process (0 = torch's default), per-process batch and config
    overrides of a mode, at global batch ``batch``. ``a+b`` applies mode ``a``'s changes,
    then ``b``'s (``bf16+ddp``: bf16 autocast in every data-parallel process)."""
    over, processes, threads = dict(TODAY), 1, 0
    for part in mode.split("+"):
        processes, threads = _apply(part, over, processes, threads, batch, cuda)
    return {"processes": processes, "threads": threads, "batch": batch // processes,
            "overrides": [f"{k}={v}" for k, v in over.items()]}


def _apply(mode: str, over: dict, processes: int, threads: int, batch: int,
           cuda: bool) -> tuple[int, int]:
    """Add one mode's config changes to ``over``; return its processes and threads."""
    if mode == "fast" and cuda:
        over.update({"train.data": "device", "train.channels_last": "on", "train.bf16": "true",
                     "train.keep_freed_memory": "true"})
    elif mode == "fast":  # cpu_bf16 auto: bf16 where the CPU has bf16 instructions
        over.update({"train.data": "device", "train.keep_freed_memory": "true",
                     "train.cpu_bf16": "auto"})
    elif mode == "ddp":
        processes, threads = max(1, min(available_cpus(), batch)), 1
        over.update({"train.data": "device", "train.keep_freed_memory": "true"})
    elif mode == "keep_memory":
        over["train.keep_freed_memory"] = "true"
    elif mode == "one_thread":
        threads = 1
    elif mode == "channels_last":
        over["train.channels_last"] = "on"
    elif mode == "bf16":
        over.update({"train.bf16": "true", "train.cpu_bf16": "on"})
    elif mode == "compile":
        over["train.compile"] = "true"
    elif mode in ("lean", "lean3"):
        over["train.d_every"] = "3" if mode == "lean3" else "2"
    elif mode == "narrow_d":
        over["discriminator.max_channels"] = "256"
    return processes, threads


def build_trainer(preset: str, resolution: int, mode: str, args):
    """The real trainer of one mode in this process (its threads set); returns it and the
    mode's :func:`setting`."""
    import torch

    from textinpaint.config import load_config
    from textinpaint.presets import preset_path
    from textinpaint.training.inpaint import InpaintTrainer
    from textinpaint.training.inpaint_config import InpaintConfig

    s = setting(mode, args.batch, torch.cuda.is_available())
    if s["threads"]:
        torch.set_num_threads(s["threads"])
    overrides = [f"resolution={resolution}", f"train.batch_size={s['batch']}",
                 "train.checkpoint_every=0", "train.sample_every=0", *s["overrides"]]
    cfg = load_config(InpaintConfig, preset_path("inpaint", preset), overrides)
    trainer = InpaintTrainer(cfg, args.dataset, ROOT / args.damsm, "/tmp/textinpaint-speed",
                             preset)
    return trainer, s


def measure(preset: str, resolution: int, mode: str, args) -> dict | None:
    """One row, in this process (one of ``processes`` started by :func:`run_row`)."""
    import torch

    cuda = torch.cuda.is_available()
    trainer, s = build_trainer(preset, resolution, mode, args)
    batches = trainer.batches(0, 0)
    data_s = step_s = busy_s = 0.0
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        batch = next(batches)
        t1 = time.perf_counter()
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        trainer.train_step(batch)
        if cuda:
            end.record()
            torch.cuda.synchronize()
        trainer.read_terms({})  # waits for the step, as a logging step would
        t2 = time.perf_counter()
        trainer.step += 1  # as fit() counts: the schedule and train.d_every read it
        if i >= args.warmup:
            data_s, step_s = data_s + t1 - t0, step_s + t2 - t1
            busy_s += start.elapsed_time(end) / 1000 if cuda else 0.0
    if not trainer.acc.is_main_process:
        return None
    images = args.steps * s["batch"] * s["processes"]
    device = (torch.cuda.get_device_name(0) if cuda else
              f"CPU, {s['processes']} proc × {torch.get_num_threads()} thread(s)")
    row = {"preset": preset, "resolution": resolution, "mode": mode, "device": device,
           "step_images_per_s": images / step_s,
           "with_data_images_per_s": images / (step_s + data_s),
           "data_share": data_s / (step_s + data_s)}
    if cuda:
        row["gpu_busy"] = busy_s / step_s
        row["peak_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return row


def run_row(preset: str, resolution: int, mode: str, args, cuda: bool) -> dict:
    """Start the processes of one row and return rank 0's measurement (raises on failure)."""
    s = setting(mode, args.batch, cuda)
    one = [__file__, "--one", f"{preset},{resolution},{mode}",
           *[f"--{k}={getattr(args, k)}" for k in ("dataset", "damsm", "batch", "steps",
                                                    "warmup")]]
    env = dict(os.environ)
    if s["processes"] > 1:
        with socket.socket() as sock:  # a free port, so two benchmarks never collide
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        argv = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                str(s["processes"]), "--master_addr", "127.0.0.1", "--master_port", str(port),
                *one]
        env["OMP_NUM_THREADS"] = str(s["threads"])
    else:
        argv = [sys.executable, *one]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
    rows = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not rows:
        raise RuntimeError((done.stderr.strip().splitlines() or ["no output"])[-1][:160])
    return json.loads(rows[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", default="full")
    p.add_argument("--resolutions", default="128")
    p.add_argument("--modes", default="today,fast")
    p.add_argument("--dataset", default="shapes", help="shapes (no files needed) or cub:PATH")
    p.add_argument("--damsm", default="models/shapes-64",
                   help="a model or DAMSM folder whose vocabulary fits --dataset")
    p.add_argument("--batch", type=int, default=8, help="global batch (the full preset's)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: preset,resolution,mode
    args = p.parse_args()
    if args.one:
        preset, resolution, mode = args.one.split(",")
        row = measure(preset, int(resolution), mode, args)
        if row is not None:
            print(json.dumps(row))
        return

    import torch

    from textinpaint.training.cpu_features import cpu_has_bf16

    cuda = torch.cuda.is_available()
    rows, skipped = [], []
    for preset in args.presets.split(","):
        for resolution in (int(r) for r in args.resolutions.split(",")):
            for mode in args.modes.split(","):
                if any(part not in MODES for part in mode.split("+")):
                    raise SystemExit(f"unknown mode '{mode}'; use {', '.join(MODES)} "
                                     "or several joined by '+'")
                if "bf16" in mode.split("+") and not cuda and not cpu_has_bf16():
                    skipped.append(f"{preset} {resolution} px bf16: this CPU has no avx512_bf16 "
                                   "or amx_bf16 (bf16 would run slower than fp32)")
                    continue
                try:
                    rows.append(run_row(preset, resolution, mode, args, cuda))
                except RuntimeError as exc:
                    skipped.append(f"{preset} {resolution} px {mode}: failed ({exc})")
    print(f"global batch {args.batch}, {args.steps} timed steps after {args.warmup} warm-up, "
          f"dataset {args.dataset}, {available_cpus()} CPUs\n")
    gpu = any("gpu_busy" in r for r in rows)
    print("| preset | px | mode | device | step img/s | with data img/s | data share | vs today |"
          + (" GPU busy | peak GB |" if gpu else ""))
    print("|---|---|---|---|---|---|---|---|" + ("---|---|" if gpu else ""))
    today = {(r["preset"], r["resolution"]): r["with_data_images_per_s"]
             for r in rows if r["mode"] == "today"}
    for r in rows:
        base = today.get((r["preset"], r["resolution"]))
        ratio = f"{r['with_data_images_per_s'] / base:.2f}×" if base else "–"
        extra = f" {r['gpu_busy']:.0%} | {r['peak_gb']:.1f} |" if gpu else ""
        print(f"| {r['preset']} | {r['resolution']} | {r['mode']} | {r['device']} | "
              f"{r['step_images_per_s']:.2f} | {r['with_data_images_per_s']:.2f} | "
              f"{r['data_share']:.0%} | {ratio} |{extra}")
    if not cuda:
        skipped.append("GPU rows: no CUDA device here")
    for line in skipped:
        print(f"not measured: {line}")


if __name__ == "__main__":
    main()
