"""The built-in synthetic multi-site study: lateral lumbar phantoms, their LabelImg boxes and made-up
DICOM headers, written to disk for ``vcfnet ingest`` like any hospital's export.

Public API: ``generate_study`` and ``MANIFEST`` (``vcfnet.synth.generate``), ``make_montage``
(``vcfnet.synth.montage``). The modules, in the order the generator uses them:

- ``sites``    the four sites (modality, bit depth, photometric, contrast, noise) and the study's counts
- ``plan``     which patient, vertebra, class, level and date each image gets (deterministic per seed)
- ``signs``    per-class radiographic signs (height loss, sclerosis, lysis, ...) with deliberate overlap
- ``vertebra`` one vertebral body and its posterior elements; ``phantom`` the whole lateral spine film
- ``landmarks`` every drawn body's box, level and six endplate landmarks (``vertebrae.json``, docs/DETECTION.md)
- ``imaging``  acquisition: smoothing, noise, blur, detector response
- ``write``    DICOM / PNG + LabelImg XML files; ``generate`` the command's driver; ``montage`` a picture

Nothing here is imported by ``vcfnet.study``: the generator only writes files that ingest then reads.
"""
