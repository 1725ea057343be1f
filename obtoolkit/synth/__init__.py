"""Synthetic Hypersim-format scenes (open3d ray casting) for the demo and the tests."""
