"""The backbones' names, the devices and the precisions, without torch: settings, presets and the
command line's --help read them here; models/backbones.MODELS holds one entry for each name (a test
keeps the two equal)."""

MODEL_NAMES = ("vgg16", "vgg19", "vgg19-caffe", "googlenet", "efficientnet-lite0")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
