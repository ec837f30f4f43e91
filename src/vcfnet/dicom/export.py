"""Research export: de-identified copies of DICOM results (and their source images), DICOM PS3.15
Basic Application Level Confidentiality Profile.

The profile's table (Annex E, which attribute is Dummy-replaced, Zeroed, removed (X) or has its UID
replaced) is the one the ``dicom-anonymizer`` package keeps in step with the standard
(``dicomfields_2026c``); vcfnet applies it here, recursively into every sequence (SR content trees,
references), because the copies must stay consistent with each other:

- UIDs (U) become ``2.25.<keyed hash>``: HMAC-SHA256 under the study key (``vcfnet.io.deid``), so the
  SR, the presentation state, the secondary capture and the source image still reference each other,
  the same original UID always maps to the same new one, and without the key nobody can map back;
- where the table allows several actions the one that keeps the object valid is taken (D over Z over X),
  and a zeroed date or time gets a dummy value (1900-01-01, 00:00) rather than none;
- Patient ID and Patient Name become the keyed patient pseudonym (``P-...``);
- private attributes are removed; the Retain Device Identity Option keeps the algorithm's model name,
  software version and serial (the model-card hash), which identify no person;
- Patient Identity Removed = YES, De-identification Method (Code Sequence DCM 113100).

Pixel data is not inspected: a source image whose Burned In Annotation is not NO is refused, since
text in its pixels may name the patient. File names are the new SOP Instance UIDs.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from pydicom.dataset import Dataset

from vcfnet.errors import InputError
from vcfnet.fileio import atomic_path
from vcfnet.io.deid import Pseudonymizer

log = logging.getLogger(__name__)
PROFILE_TABLE = "dicomfields_2026c"
METHOD = "DICOM PS3.15 E.1 Basic Profile; keyed UIDs; vcfnet"
#: Retain Device Identity Option (PS3.15 E.3.6): the algorithm's identity, no person's.
RETAINED = {(0x0008, 0x1090), (0x0018, 0x1020), (0x0018, 0x1000)}
#: Removed (X) by the table but type 1 in an object written here: a dummy keeps the object valid.
TYPE1_DUMMY = {(0x0070, 0x0082), (0x0070, 0x0083)}   # Presentation Creation Date / Time (GSPS)
_DUMMY = {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "IS": "0", "DS": "0"}
_PRIORITY = (("X_Z_U_STAR_TAGS", "U"), ("U_TAGS", "U"), ("X_Z_D_TAGS", "D"), ("X_D_TAGS", "D"),
             ("Z_D_TAGS", "D"), ("D_TAGS", "D"), ("X_Z_TAGS", "Z"), ("Z_TAGS", "Z"), ("X_TAGS", "X"))


def profile_actions() -> tuple[dict[tuple[int, int], str], list[tuple[tuple[int, int, int, int], str]]]:
    """(exact tag -> action, [(group/element mask, action)]) of the Basic Profile table."""
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    table = dicom_anonymization_database_selector(PROFILE_TABLE)
    exact: dict[tuple[int, int], str] = {}
    masked: list[tuple[tuple[int, int, int, int], str]] = []
    for category, action in reversed(_PRIORITY):          # later (higher-priority) entries win
        for tag in table[category]:
            if len(tag) == 2:
                exact[tag] = action
            else:
                masked.append((tag, action))
    return exact, masked


class Deidentifier:
    """Applies the profile with one study key (``vcfnet.io.load_or_create_key``)."""

    def __init__(self, key: bytes):
        self._pseudo = Pseudonymizer(key)
        self._exact, self._masked = profile_actions()

    def uid(self, value: str) -> str:
        """The keyed replacement of a UID: ``2.25.`` + a 128-bit integer (PS3.5 B.2)."""
        return "2.25." + str(int(self._pseudo.token("uid", str(value).strip())[:32], 16))

    def _action(self, tag) -> str | None:
        key = (tag.group, tag.element)
        if key in RETAINED:
            return None
        if key in TYPE1_DUMMY:
            return "D"
        if key in self._exact:
            return self._exact[key]
        for (group, element, gmask, emask), action in self._masked:
            if tag.group & gmask == group & gmask and tag.element & emask == element & emask:
                return action
        return None

    def _apply(self, ds: Dataset) -> None:
        for elem in list(ds):
            action = self._action(elem.tag)
            if elem.VR == "SQ":
                if action == "X":
                    del ds[elem.tag]
                    continue
                for item in elem.value:
                    self._apply(item)
            elif action == "X":
                del ds[elem.tag]
            elif action == "Z":      # a date or time gets a dummy: some are type 1 (Presentation Creation Date)
                elem.value = _DUMMY[elem.VR] if elem.VR in ("DA", "TM", "DT") and elem.value else None
            elif action == "U" and elem.value:
                values = elem.value if isinstance(elem.value, (list, tuple)) or hasattr(elem.value, "append") \
                    else [elem.value]
                new = [self.uid(v) for v in values]
                elem.value = new if len(new) > 1 else new[0]
            elif action == "D" and elem.value not in (None, ""):
                elem.value = "ANONYMOUS" if elem.VR in ("PN", "LO", "SH", "CS", "ST", "LT", "UT", "UC", "AE") \
                    else _DUMMY.get(elem.VR, elem.value)

    def deidentify(self, ds: Dataset) -> Dataset:
        """``ds`` de-identified in place (and returned)."""
        raw = str(ds.get("PatientID", "") or "").strip()
        patient = self._pseudo.patient(raw) if raw else "P-unknown"
        self._apply(ds)
        ds.remove_private_tags()
        ds.PatientID, ds.PatientName = patient, patient
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = METHOD
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator = "113100", "DCM"
        code.CodeMeaning = "Basic Application Confidentiality Profile"
        ds.DeidentificationMethodCodeSequence = [code]
        if getattr(ds, "file_meta", None) is not None:
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        return ds


def export_files(paths: Iterable[str | Path], out_dir: str | Path, key: bytes) -> list[Path]:
    """De-identified copies of DICOM ``paths`` in ``out_dir`` (``<new SOP Instance UID>.dcm``)."""
    from vcfnet.io.radiograph import read_dicom_dataset

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    deid = Deidentifier(key)
    written = []
    for path in paths:
        try:
            ds = read_dicom_dataset(path)
        except Exception as exc:  # noqa: BLE001 - a damaged file is a user's input error
            raise InputError(path, f"cannot read the DICOM file ({type(exc).__name__})") from None
        burned = str(ds.get("BurnedInAnnotation", "NO") or "NO").upper()
        if burned != "NO" and ds.get("Manufacturer") != "vcfnet":
            raise InputError(path, f"Burned In Annotation is {burned}: text in the pixels may identify the "
                                   f"patient; not exported", field="BurnedInAnnotation")
        deid.deidentify(ds)
        target = out / f"{ds.SOPInstanceUID}.dcm"
        with atomic_path(target) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
        written.append(target)
    log.info("research export: %d de-identified file(s)", len(written))
    return written
