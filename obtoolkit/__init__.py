"""obtoolkit: the library behind OB-Hypersim.

Reading Hypersim, exact camera geometry, occlusion-boundary labels, validation, manifests, metrics, pictures and
synthetic Hypersim-format scenes. No CLI, no global state, no logging configuration.
"""

__version__ = "0.1.0"
