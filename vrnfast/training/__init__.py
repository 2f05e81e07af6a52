"""Training VRN: the trainer (its data pipeline, splits, loss, checkpoints and loop) and the
paper's augmentation of an image, its volume and its landmarks together."""
