"""MoDOT: Swin encoder, NeWCRF depth decoder, OB decoder, CASM, losses, dataset, trainer, evaluation, checkpoints."""
