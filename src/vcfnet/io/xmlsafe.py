"""The one XML parser vcfnet uses for every XML it reads (LabelImg Pascal VOC, uploads).

``parse_xml`` refuses, with one ``InputError`` line each: a document over the size bound (checked
before any parsing), a DTD (``<!DOCTYPE``), an entity declaration or external reference, and malformed
XML. The checks run inside the parser (defusedxml over expat), not on the raw bytes, so they hold in
every encoding expat reads (UTF-16 and UTF-32 with a BOM, Latin-1, ...): a regex over the bytes
misses ``<!DOCTYPE`` written in UTF-16, and the entities would then expand.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as DET

from vcfnet.errors import InputError

#: Largest XML accepted (bytes). A LabelImg file is about 300 bytes a box: 1 MiB is thousands of boxes.
MAX_XML_BYTES = 1 << 20

_EXPECTED = "expected a plain XML document such as a LabelImg Pascal VOC file"


def parse_xml(data: bytes, source: str | Path, *, max_bytes: int = MAX_XML_BYTES) -> ET.Element:
    """Parse ``data`` (the bytes of the file ``source``, named in errors) into its root element.

    Raises ``InputError(source, ...)`` when the document is larger than ``max_bytes``, carries a DTD,
    declares or references entities, or is not well-formed XML.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse_xml takes the document's bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise InputError(source, f"XML larger than the limit of {max_bytes} bytes; {_EXPECTED}")
    try:
        return DET.fromstring(bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        problem = "XML with a DOCTYPE (DTD) is not accepted"
    except defusedxml.EntitiesForbidden:
        problem = "XML with an ENTITY declaration is not accepted"
    except defusedxml.ExternalReferenceForbidden:
        problem = "XML referring to an external resource is not accepted"
    except defusedxml.NotSupportedError:
        problem = "XML using an unsupported feature is not accepted"
    except ET.ParseError as exc:
        # expat's message is its own ("not well-formed (invalid token): line 1, column 4"), never the input
        problem = f"malformed XML ({str(exc)[:120]})"
    except (ValueError, LookupError, UnicodeError) as exc:   # e.g. an encoding expat cannot decode
        problem = f"unreadable XML ({type(exc).__name__}: {str(exc)[:80]})"
    raise InputError(source, f"{problem}; {_EXPECTED}")
