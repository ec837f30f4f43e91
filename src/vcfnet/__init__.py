"""vcfnet: AI diagnosis of vertebral compression fractures on lateral spine radiographs.

The package is organised along the study's data flow (see DESIGN.md):
io -> study -> model -> predict -> stats -> report -> readers / service.
Importing ``vcfnet`` is cheap: heavy libraries (torch, matplotlib) load only where they are used.
"""
from vcfnet.labels import CLASSES

__version__ = "0.1.0"
__all__ = ["CLASSES", "__version__"]
