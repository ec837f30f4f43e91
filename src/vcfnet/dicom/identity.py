"""Who made a DICOM result: the algorithm's identity as the IHE AI Results (AIR) profile asks.

Every object carries the algorithm as Contributing Equipment (purpose: Processing Equipment) with the
manufacturer ``vcfnet``, the model name (the architecture), the software version and, as the device
serial number, the first 16 hex digits of the model-card hash. The SR adds the algorithm as the
observer device (TID 1004) and as Algorithm Identification (TID 4019) on every finding.

The model-card hash is the SHA-256 of the card's canonical JSON (sorted keys), which includes the
weights' hash and the time the card was written: a retrained model is a new hash, hence a new device
UID (derived from the hash), so a PACS can tell results of two models apart.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import highdicom as hd
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

import vcfnet

MANUFACTURER = "vcfnet"
ALGORITHM_NAME = "vcfnet vertebral compression fracture classifier"


@dataclass(frozen=True)
class AlgorithmIdentity:
    """The algorithm behind a result: names, versions and a device identity per model."""

    name: str
    version: str
    model_name: str
    model_hash: str
    device_uid: str

    @property
    def serial(self) -> str:
        return self.model_hash[:16]

    @property
    def parameters(self) -> list[str]:
        return [f"model_card_sha256={self.model_hash}"]


def card_hash(card: dict[str, Any]) -> str:
    """SHA-256 of a model card's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(card, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def identity_of(card: dict[str, Any]) -> AlgorithmIdentity:
    """The identity of the model a Predictor holds (``predictor.card``)."""
    digest = card_hash(card)
    arch = str(card.get("architecture", "model"))
    return AlgorithmIdentity(name=ALGORITHM_NAME, version=vcfnet.__version__, model_name=f"vcfnet-{arch}",
                             model_hash=digest,
                             device_uid=generate_uid(entropy_srcs=["vcfnet-device", digest]))


def contributing_equipment(identity: AlgorithmIdentity) -> hd.ContributingEquipment:
    """Contributing Equipment (PS3.3 C.12.1.1.5) naming the algorithm as processing equipment."""
    return hd.ContributingEquipment(
        manufacturer=MANUFACTURER, purpose_of_reference=codes.DCM.ProcessingEquipment,
        manufacturer_model_name=identity.model_name, software_versions=identity.version,
        device_serial_number=identity.serial,
        contribution_description=f"{identity.name}; model card SHA-256 {identity.model_hash}")


def algorithm_id(identity: AlgorithmIdentity, model: str = "image") -> hd.sr.AlgorithmIdentification:
    """TID 4019 Algorithm Identification: name, version, the model-card hash and the answering model
    ("image" or "image+clinical") as its parameters."""
    return hd.sr.AlgorithmIdentification(name=identity.name, version=identity.version,
                                         parameters=[*identity.parameters, f"answering_model={model}"],
                                         manufacturer=MANUFACTURER)


def device_observer(identity: AlgorithmIdentity) -> hd.sr.ObserverContext:
    """TID 1004 Device Observer: the model as the observer of every finding."""
    return hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=identity.device_uid, name=identity.name, manufacturer_name=MANUFACTURER,
            model_name=identity.model_name, serial_number=identity.serial))
