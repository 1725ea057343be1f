"""Stand-in for timm: the few names the official MoDOT network imports (see bench/standins/README.md)."""
