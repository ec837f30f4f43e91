"""DICOM results (SR, GSPS, secondary capture via highdicom), research export, DICOMweb and the DIMSE node."""
