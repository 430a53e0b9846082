"""Machine learning on PyTorch: datasets, models, curriculum training, calibration.

Imported only when needed (``import xrdfast.ml``): the rest of xrdfast runs without torch.
"""
