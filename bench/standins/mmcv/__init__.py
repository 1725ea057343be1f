"""Stand-in for mmcv: only `mmcv.cnn.ConvModule` (see bench/standins/README.md)."""
