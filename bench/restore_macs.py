"""Multiply-accumulates of the restoration networks at their inference sizes (load-independent).

The shared 2-core box is too noisy for timing while other jobs run, so the light default sizes
were chosen from these counts, then checked by bench/bench_restore_defaults.py.

    .venv/bin/python bench/restore_macs.py
"""
from __future__ import annotations

import torch
from torch import nn

from oldfilm.restore.detector import build_detector
from oldfilm.restore.faces.spade import build_face_generator
from oldfilm.restore.mapping import build_mapping
from oldfilm.restore.vae import build_vae


def macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    total = 0

    def hook(m, inp, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):
            total += inp[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.inference_mode():
        model.eval()(*inputs)
    for h in hs:
        h.remove()
    return total


def main() -> None:
    from oldfilm.restore.train_restorer import CONFIGS as RC
    from oldfilm.restore.train_scratch import CONFIGS as SC
    from oldfilm.restore.faces.train import CONFIGS as FC

    h, w = 480, 640
    x = torch.randn(1, 3, h, w)
    for name in ("light", "published"):
        rc = RC[name]
        vae = build_vae(rc["vae"])
        z = vae.encode(x)
        enc = macs(vae.encoder, x)
        dec = macs(vae.decoder, z)
        mq = macs(build_mapping(rc["mapping_quality"]), z)
        mask = torch.zeros(1, 1, h, w)
        mask[..., 200:204, :] = 1
        ms = macs(build_mapping({**rc["mapping_scratch"], "max_keys": rc["mapping_scratch"].get("max_keys", 128 * 128)}), z, mask)
        det = macs(build_detector(SC[name]), torch.randn(1, 1, 256, 336))
        face = macs(build_face_generator(FC[name]), torch.randn(1, 3, 256, 256))
        print(f"{name:9s} 640x480: VAE enc {enc/1e9:.2f} G, dec {dec/1e9:.2f} G, mapping quality {mq/1e9:.2f} G, "
              f"scratch {ms/1e9:.2f} G (convs only), detector@256x336 {det/1e9:.2f} G, face@256 {face/1e9:.2f} G; "
              f"scratch path + 1 face = {(enc+dec+ms+det+face)/1e9:.2f} GMAC")


if __name__ == "__main__":
    main()
