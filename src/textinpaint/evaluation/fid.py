"""FID and KID from Inception-v3 features, only with weights the user supplies as a local file.

Nothing is ever downloaded: without ``--fid-weights`` the evaluation skips FID/KID and says so.
Features are extracted once per image set (ground truth, each method) by torchmetrics'
``NoTrainInceptionV3`` (torch-fidelity's FID Inception, 2048-d pool features) loaded from the
file; FID and KID are then computed by torchmetrics from those features, through an identity
"feature extractor", so no image passes through Inception twice.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UserError

SKIPPED = "FID/KID skipped: no Inception weights given (--fid-weights); none are downloaded"
FEATURES = 2048


class InceptionFeatures:
    """2048-d Inception pool features of uint8 B×3×H×W images (resized to 299 inside)."""

    def __init__(self, weights: str | Path, device: str | torch.device = "cpu"):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"Inception weights file '{path}' does not exist (--fid-weights)")
        try:
            import torch_fidelity  # noqa: F401  (NoTrainInceptionV3 is built on it)
            from torchmetrics.image.fid import NoTrainInceptionV3
        except ImportError:
            raise UserError(
                "--fid-weights needs the torch-fidelity package, which is not installed; "
                "install it (pip install torch-fidelity) or leave out --fid-weights"
            ) from None
        try:
            self.net = NoTrainInceptionV3(name="inception-v3-compat",
                                          features_list=[str(FEATURES)],
                                          feature_extractor_weights_path=str(path))
        except Exception as exc:  # a wrong file fails deep inside torch-fidelity
            raise UserError(
                f"cannot load Inception weights '{path}' ({type(exc).__name__}: {exc}); pass "
                "torch-fidelity's pt_inception-2015-12-05 weights file"
            ) from None
        self.net.to(device)
        self.device = device

    @torch.inference_mode()
    def __call__(self, images_uint8: torch.Tensor) -> torch.Tensor:
        return self.net(images_uint8.to(self.device)).float().cpu()


class _Identity(torch.nn.Module):
    """Hands precomputed features to torchmetrics' FID/KID unchanged."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def fid_kid(real: torch.Tensor, fake: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """FID and KID (mean ± std over subsets) between two N×D feature sets.

    KID uses subsets of min(1000, N) samples, 100 subsets, drawn from a fixed seed so repeated
    evaluations agree.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    n = min(len(real), len(fake))
    if n < 2:
        return {"fid": None, "kid": None, "kid_std": None}
    fid = FrechetInceptionDistance(feature=_Identity(real.shape[1]))
    fid.update(real.double(), real=True)
    fid.update(fake.double(), real=False)
    kid = KernelInceptionDistance(feature=_Identity(real.shape[1]), subsets=100,
                                  subset_size=min(1000, n))
    kid.update(real.double(), real=True)
    kid.update(fake.double(), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # KID draws its subsets from the global generator
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}
