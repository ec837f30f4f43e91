"""Vertebra detection, levels, landmarks and morphometry (Genant), without hand-drawn boxes.

- ``coco``        the vertebra annotations contract: COCO keypoints JSON (``vertebrae.json``)
- ``morphometry`` heights from six landmarks, height-loss ratios against the neighbours, Genant grade
  and shape, the study's inclusion rule
- ``levels``      level assignment counted up from the S1 anchor, "uncertain" on enumeration anomalies
- ``model`` / ``train`` / ``infer``  the torchvision detector, its training loop and its inference
- ``pipeline``    detect -> morphometry -> classify each fractured body through a ``Predictor``

See docs/DETECTION.md.
"""
