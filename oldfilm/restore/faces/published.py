"""Registers the face-generator architectures, published BOPBTL face recognisers and named models."""
