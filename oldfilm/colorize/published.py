"""Registers the colorizer architectures, published DeOldify recognisers and named models."""
