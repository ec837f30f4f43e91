"""The one hardened XML parser: DTDs, entities, oversize and malformed XML refused in any encoding."""
from __future__ import annotations

import pytest

from vcfnet.errors import InputError
from vcfnet.io import read_voc
from vcfnet.io.xmlsafe import MAX_XML_BYTES, parse_xml

GOOD = "<annotation><filename>case.png</filename><object><name>Acute-L1</name></object></annotation>"
# A billion-laughs head: 10 levels of 10 -> 10^10 'lol's if the entities were expanded.
LAUGHS = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))


def _doc(encoding: str, body: str) -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>\n{body}'


def _refusal(data: bytes) -> str:
    with pytest.raises(InputError) as info:
        parse_xml(data, "upload.xml")
    message = str(info.value)
    assert message.startswith("upload.xml: ") and "\n" not in message and len(message) < 300
    return message


@pytest.mark.parametrize("encoding, codec", [("UTF-8", "utf-8"), ("UTF-16", "utf-16"),
                                             ("UTF-16LE", "utf-16-le"), ("UTF-16BE", "utf-16-be"),
                                             ("ISO-8859-1", "latin-1")])
def test_good_xml_in_every_encoding(encoding, codec):
    root = parse_xml(_doc(encoding, GOOD).encode(codec), "a.xml")
    assert root.tag == "annotation" and root.findtext("object/name") == "Acute-L1"


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "utf-16-le", "utf-16-be"])
def test_dtd_refused_in_every_encoding(codec):
    encoding = codec.upper().replace("-LE", "LE").replace("-BE", "BE")
    bomb = _doc(encoding, f"<!DOCTYPE annotation [{LAUGHS}]><annotation>&l9;</annotation>")
    assert "DOCTYPE" in _refusal(bomb.encode(codec))
    plain_dtd = _doc(encoding, "<!DOCTYPE annotation><annotation/>")
    assert "DOCTYPE" in _refusal(plain_dtd.encode(codec))


@pytest.mark.parametrize("encoding", ["windows-1252", "koi8-r", "UTF-32", "UTF-32LE", "cp037", "shift_jis",
                                      "utf-7"])
def test_dtd_in_other_encodings_never_expands(encoding):
    # single-byte encodings are parsed (and the DTD refused); the rest expat cannot read: refused too
    bomb = _doc(encoding, f"<!DOCTYPE annotation [{LAUGHS}]><annotation>&l9;</annotation>")
    assert "lol" not in _refusal(bomb.encode(encoding.lower()))


def test_external_entity_and_undeclared_entity_refused():
    assert "DOCTYPE" in _refusal(b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>')
    assert "malformed XML" in _refusal(b"<a>&x;</a>")


def test_size_bound_checked_before_parsing():
    # Not even well-formed: only the size is looked at.
    message = _refusal(b"<" * (MAX_XML_BYTES + 1))
    assert "larger than the limit" in message
    with pytest.raises(InputError, match="larger than the limit of 10 bytes"):
        parse_xml(GOOD.encode(), "a.xml", max_bytes=10)


@pytest.mark.parametrize("data, expected", [(b"", "malformed"), (b"<a><b></a>", "malformed"),
                                            (b"\xff\xfe\x00garbage", "malformed"),
                                            (b'<?xml version="1.0" encoding="x' + b"k" * 5000 + b'"?><a/>',
                                             "unreadable")])
def test_malformed_one_bounded_line(data, expected):
    assert expected in _refusal(data)


def test_read_voc_refuses_utf16_dtd_and_entities_do_not_expand(tmp_path):
    # A raw-bytes regex does not see '<!DOCTYPE' in UTF-16: the entities used to expand.
    path = tmp_path / "film.xml"
    body = f"<!DOCTYPE annotation [{LAUGHS}]><annotation><filename>&l3;</filename></annotation>"
    path.write_bytes(_doc("UTF-16", body).encode("utf-16"))
    with pytest.raises(InputError, match=r"film\.xml: XML with a DOCTYPE") as info:
        read_voc(path)
    assert "lol" not in str(info.value)


def test_read_voc_reads_utf16_labelimg(tmp_path):
    path = tmp_path / "film.xml"
    path.write_bytes(_doc("UTF-16", "<annotation><filename>film.png</filename></annotation>").encode("utf-16"))
    assert read_voc(path).filename == "film.png"


def test_read_voc_reads_what_labelimg_writes(tmp_path):
    from libs.pascal_voc_io import PascalVocWriter

    writer = PascalVocWriter("site1", "film.png", (200, 240, 1), local_img_path=str(tmp_path / "film.png"))
    writer.add_bnd_box(0, 10, 240, 200, "Acute-L1", 0)            # touches the right and bottom edges
    writer.add_bnd_box(5, 6, 50, 60, "Neoplastic_T12", 0)
    writer.save(target_file=str(tmp_path / "film.xml"))
    ann = read_voc(tmp_path / "film.xml")
    assert (ann.filename, ann.width, ann.height) == ("film.png", 240, 200)
    assert [(b.label, b.level, b.x0, b.y0, b.x1, b.y1) for b in ann.boxes] == [
        ("acute", "L1", 0, 10, 240, 200), ("pathological", "T12", 5, 6, 50, 60)]


def test_no_other_xml_parser_in_vcfnet():
    """Every XML vcfnet reads goes through parse_xml: no module parses XML on its own."""
    import re
    from pathlib import Path

    import vcfnet

    parsing = re.compile(r"\b(fromstring|iterparse|XMLParser|XMLPullParser|parseString|minidom|lxml|"
                         r"ParserCreate|sax\.parse)\b|\bET\.parse\(|ElementTree\.parse\(")
    src = Path(vcfnet.__file__).parent
    offenders = [f"{p.relative_to(src)}:{i}" for p in sorted(src.rglob("*.py")) if p.name != "xmlsafe.py"
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
                 if parsing.search(line)]
    assert offenders == []
