"""The codes vcfnet writes into DICOM results, each chosen once here (docs/DICOM.md says why).

Standard codes where one exists (SNOMED CT ``SCT``, DICOM ``DCM``, UCUM); where none does, one private
coding scheme, ``99VCFNET``, declared in every object that uses it (Coding Scheme Identification
Sequence, PS3.3 C.12.1.1.2). Private designators start with ``99`` (PS3.16 section 8.1).

    finding             SCT 42942008 Compression fracture of vertebral column
    class (value)       acute: SCT 373933003 Acute onset; chronic: SCT 90734009 Chronic;
                        pathological: SCT 268029009 Pathological fracture
    class (name)        99VCFNET fracture-class "Fracture class" (no standard concept names it)
    probabilities       99VCFNET p-acute / p-chronic / p-pathological, unit UCUM 1 "no units"
    referral            99VCFNET refer "Refer to a specialist": SCT 373066001 Yes / 373067005 No
    finding site        SCT vertebra codes (T1..T12, L1..L5); SCT 51282000 Vertebra for any other or no level
    procedure           SCT 168537006 Plain radiography
"""
from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset

from vcfnet.labels import CLASSES

PRIVATE_SCHEME = "99VCFNET"
PRIVATE_SCHEME_NAME = "vcfnet vertebral compression fracture codes"
PRIVATE_SCHEME_VERSION = "1"
PRIVATE_SCHEME_ORG = "vcfnet project"


def sct(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value, "SCT", meaning)


def private(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value, PRIVATE_SCHEME, meaning, scheme_version=PRIVATE_SCHEME_VERSION)


FINDING = sct("42942008", "Compression fracture of vertebral column")
PROCEDURE = sct("168537006", "Plain radiography")
VERTEBRA = sct("51282000", "Vertebra")
CLASS_NAME = private("fracture-class", "Fracture class")
NO_UNITS = CodedConcept("1", "UCUM", "no units")
REFER_NAME = private("refer", "Refer to a specialist")
YES, NO = sct("373066001", "Yes"), sct("373067005", "No")

#: The class as a coded value (``CLASSES`` order).
CLASS_CODES: dict[str, CodedConcept] = {
    "acute": sct("373933003", "Acute onset"),
    "chronic": sct("90734009", "Chronic"),
    "pathological": sct("268029009", "Pathological fracture"),
}
#: The name of each class probability (a measurement in [0, 1]).
PROBABILITY_CODES: dict[str, CodedConcept] = {
    c: private(f"p-{c}", f"Probability of {c} fracture") for c in CLASSES}

#: SNOMED CT bone structure of each vertebra ("Bone structure of L1" etc.; DICOM's anatomic codes).
_LEVEL_SCT = {
    "T1": ("64864005", "T1 vertebra"), "T2": ("53733008", "T2 vertebra"), "T3": ("1626008", "T3 vertebra"),
    "T4": ("73071006", "T4 vertebra"), "T5": ("56401006", "T5 vertebra"), "T6": ("45296009", "T6 vertebra"),
    "T7": ("62487009", "T7 vertebra"), "T8": ("11068009", "T8 vertebra"), "T9": ("82687006", "T9 vertebra"),
    "T10": ("7610001", "T10 vertebra"), "T11": ("12989004", "T11 vertebra"),
    "T12": ("23215003", "T12 vertebra"), "L1": ("66794005", "L1 vertebra"),
    "L2": ("14293000", "L2 vertebra"), "L3": ("36470004", "L3 vertebra"), "L4": ("11994002", "L4 vertebra"),
    "L5": ("49668003", "L5 vertebra"),
}
LEVEL_CODES: dict[str, CodedConcept] = {k: sct(*v) for k, v in _LEVEL_SCT.items()}


def level_code(level: str | None) -> CodedConcept:
    """The finding site of a vertebral level; the generic Vertebra when the level is unknown."""
    return LEVEL_CODES.get(level or "", VERTEBRA)


def level_of(code_value: str) -> str | None:
    """The level a finding-site code stands for (None for the generic Vertebra)."""
    return next((k for k, v in LEVEL_CODES.items() if v.value == code_value), None)


def coding_scheme_item() -> Dataset:
    """The Coding Scheme Identification Sequence item declaring ``99VCFNET``."""
    item = Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = PRIVATE_SCHEME_NAME
    item.CodingSchemeVersion = PRIVATE_SCHEME_VERSION
    item.CodingSchemeResponsibleOrganization = PRIVATE_SCHEME_ORG
    return item
