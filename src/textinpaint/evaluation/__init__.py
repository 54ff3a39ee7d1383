"""Evaluation: metrics, baselines, R-precision, text gain and reports.

``metrics`` (per-image L1/PSNR/SSIM, whole image and hole), ``baselines`` (Telea,
Navier-Stokes, mean fill), ``evalset`` (the deterministic evaluation set and mismatched
captions), ``rprecision`` and ``textscore`` (DAMSM R-precision), ``caption_accuracy``
(``shapes``), ``fid`` (FID/KID from a local Inception file only), ``runner`` (the loop:
:func:`textinpaint.evaluation.runner.evaluate`) and ``report`` (metrics.json, report.md, grids,
plot). Kept import-light: import the submodule you need.
"""
