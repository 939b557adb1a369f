"""Registers the restoration architectures, published BOPBTL recognisers and named models."""
