"""Stand-in for torchvision: the official newcrf_utils imports it at module level for model-zoo helpers that the
network never calls (see bench/standins/README.md)."""
