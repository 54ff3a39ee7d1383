"""Speed and memory of every inpainting preset's generator (random weights; speed needs none).

For each preset in ``configs/inpaint/*.yaml`` (its ``generator:`` section), each resolution,
each device (CPU, and CUDA when available) and each mode (fp32, bf16 autocast,
channels_last fp32), a fresh subprocess builds the generator and measures

* latency: median seconds of one forward pass at batch 1,
* throughput: images per second at batch 8 (median pass),
* peak memory: on CPU the rise of the process's peak resident set (``VmHWM`` in
  ``/proc/self/status``) over its resident set before the network was built, i.e. weights +
  activations + allocator overhead; on CUDA ``torch.cuda.max_memory_allocated``.

One subprocess per measurement keeps the peaks separate (VmHWM never goes down). Text inputs
are random word/sentence features of the preset's sizes (18 words); the text encoder is not
timed. A preset whose depth does not fit a resolution (MMFL's 8 levels need multiples of
256) runs with fewer levels, as ``quality.py`` trains it, and the table says so.

    python benchmarks/speed.py                       # all presets, 128 and 256 px
    python benchmarks/speed.py --presets tiny,full --resolutions 128 --repeats 3
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
MODES = ("fp32", "bf16", "channels_last")
WORDS = 18


def fit_levels(overrides: dict, cfg, resolution: int) -> dict:
    """Generator overrides so that ``cfg`` accepts ``resolution``: the same network with its
    deepest levels dropped (levels keep their meaning, 1/2**l of the input). {} if it fits."""
    if resolution % cfg.size_multiple == 0:
        return {}
    fit = (resolution & -resolution).bit_length() - 1  # largest power of two dividing it
    out = {"num_levels": min(cfg.num_levels, fit)}
    if cfg.use_refine:
        out["refine_num_levels"] = min(cfg.refine_num_levels, fit)
    return {**overrides, **out}


def generator_config(preset: str, resolution: int):
    """(GeneratorConfig, overrides applied) of a preset at a resolution."""
    from textinpaint.config import load_config
    from textinpaint.presets import preset_path
    from textinpaint.training.inpaint_config import InpaintConfig

    path = preset_path("inpaint", preset)
    cfg = load_config(InpaintConfig, path).generator
    changes = fit_levels({}, cfg, resolution)
    if changes:
        cfg = load_config(InpaintConfig, path,
                          [f"generator.{k}={v}" for k, v in changes.items()]).generator
    return cfg, changes


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(preset: str, resolution: int, device: str, mode: str, repeats: int,
            threads: int = 0) -> dict:
    """One measurement (run inside a worker subprocess)."""
    import torch

    if threads:
        torch.set_num_threads(threads)

    from textinpaint.nn.generator import InpaintGenerator

    rss_before = _rss_kib("VmRSS")
    cfg, changes = generator_config(preset, resolution)
    torch.manual_seed(0)
    net = InpaintGenerator(cfg).eval().requires_grad_(False).to(device)
    params = sum(p.numel() for p in net.parameters())
    if mode == "channels_last":
        net = net.to(memory_format=torch.channels_last)

    def inputs(b: int):
        g = torch.Generator().manual_seed(1)
        image = (torch.rand(b, 3, resolution, resolution, generator=g) * 2 - 1).to(device)
        mask = torch.zeros(b, 1, resolution, resolution, device=device)
        q = resolution // 4
        mask[..., q:3 * q, q:3 * q] = 1
        if mode == "channels_last":
            image = image.contiguous(memory_format=torch.channels_last)
        text = (None, None, None)
        if cfg.use_text:
            text = (torch.randn(b, cfg.word_dim, WORDS, generator=g).to(device),
                    torch.randn(b, cfg.sentence_dim, generator=g).to(device),
                    torch.ones(b, WORDS, dtype=torch.bool, device=device))
        return image, mask, text

    def timed(b: int) -> tuple[float, float, torch.Tensor]:
        """Median wall and CPU seconds of a forward pass, and its output."""
        image, mask, text = inputs(b)
        ctx = torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16,
                             enabled=mode == "bf16")
        times, cpu = [], []
        with torch.inference_mode(), ctx:
            for i in range(repeats + 1):  # the first pass is warm-up
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                start, start_cpu = time.perf_counter(), time.process_time()
                out = net(image, mask, *text)["final"]
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                if i:
                    times.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - start_cpu)
        return statistics.median(times), statistics.median(cpu), out.float()

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    latency, cpu_s, out = timed(1)
    throughput = 8 / timed(8)[0]
    # How far a faster mode strays from fp32 on the same input (hole pixels, [-1, 1] scale).
    deviation = 0.0
    if mode != "fp32":
        image, mask, text = inputs(1)
        with torch.inference_mode():
            ref = InpaintGenerator(cfg).eval().to(device)
            ref.load_state_dict(net.state_dict())
            deviation = (ref(image.contiguous(), mask, *text)["final"] - out).abs().max().item()
    if device.startswith("cuda"):
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = (_rss_kib("VmHWM") - rss_before) / 1024
    return {"preset": preset, "resolution": resolution, "device": device, "mode": mode,
            "params_m": params / 1e6, "latency_s": latency, "cpu_s": cpu_s,
            "throughput": throughput, "max_dev_vs_fp32": deviation,
            "peak_mb": peak_mb, "threads": torch.get_num_threads(), "changes": changes}


def run_worker(job: dict) -> dict:
    """Run one measurement in a fresh interpreter; a failure comes back as an error row."""
    cmd = [sys.executable, __file__, "--worker", json.dumps(job)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {**job, "error": tail}
    return json.loads(lines[-1])


def table(rows: list[dict]) -> str:
    """Markdown table of the measurements."""
    out = ["| preset | px | device | mode | params (M) | latency b=1 (s) | CPU time b=1 (s) | "
           "img/s b=8 | peak mem (MB) | max dev. vs fp32 |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        preset = r["preset"] + (" *" if r.get("changes") else "")
        if "error" in r:
            out.append(f"| {preset} | {r['resolution']} | {r['device']} | {r['mode']} | "
                       f"error: {r['error'][:80]} | | | | | |")
            continue
        out.append(f"| {preset} | {r['resolution']} | {r['device']} | {r['mode']} | "
                   f"{r['params_m']:.2f} | {r['latency_s']:.4f} | {r['cpu_s']:.4f} | "
                   f"{r['throughput']:.2f} | {r['peak_mb']:.0f} | {r['max_dev_vs_fp32']:.4f} |")
    notes = sorted({f"{r['preset']} at {r['resolution']} px: {r['changes']}" for r in rows
                    if r.get("changes")})
    if notes:
        out += ["", "\\* fewer levels to fit the size: " + "; ".join(notes)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from textinpaint.presets import available

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default=",".join(available("inpaint")),
                   help="comma list of configs/inpaint presets (default: all)")
    p.add_argument("--resolutions", default="128,256", help="comma list of sizes in px")
    p.add_argument("--repeats", type=int, default=3, help="timed passes per measurement")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma list of {MODES}")
    p.add_argument("--devices", default=None, help="comma list (default: cpu, + cuda if any)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads per measurement (default: torch's choice)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        print(json.dumps(measure(**job)))
        return 0
    import torch

    devices = args.devices.split(",") if args.devices else (
        ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    rows = []
    for preset in args.presets.split(","):
        for res in (int(r) for r in args.resolutions.split(",")):
            for device in devices:
                for mode in args.modes.split(","):
                    job = {"preset": preset.strip(), "resolution": res, "device": device,
                           "mode": mode.strip(), "repeats": max(1, args.repeats),
                           "threads": args.threads}
                    rows.append(run_worker(job))
                    r = rows[-1]
                    done = "error" if "error" in r else f"{r['latency_s']:.3f} s"
                    print(f"  {preset} {res}px {device} {mode}: {done}", file=sys.stderr)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
