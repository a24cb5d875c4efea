"""The networks: backbones with readable layer names, EfficientNet-Lite0, batch-norm folding, measuring
layers at run time, the layer inspector, the zoo, and device/precision choice."""
