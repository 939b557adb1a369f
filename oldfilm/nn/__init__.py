"""Shared network layers: legacy-layout spectral/weight norm convs, self-attention, ICNR shuffle,
ResNet encoders. Plain PyTorch; no fastai at inference time."""
