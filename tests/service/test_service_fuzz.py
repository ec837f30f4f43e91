"""Malformed DICOM / PNG / JPEG / XML / JSON / multipart thrown at every endpoint: only 4xx answers,
never a 500 (the test client re-raises server errors) and never a hang. Also issue 8's bombs: a
deflated DICOM of 512 MiB of zeros, a 40,000-box report, a non-ASCII cookie, UTF-16 XML with a DTD,
400-digit integers."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

pytestmark = pytest.mark.timeout(300)

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<annotation><filename>&lol9;</filename></annotation>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<annotation><filename>&x;</filename></annotation>"""


def _dicom_variants(media, rng) -> list[tuple[bytes, bool]]:
    """(content, must_fail): random flips may leave a valid file, which may then be answered."""
    from pydicom import dcmread

    good = media.dicom(64, 48)
    out = [(good[:n], True) for n in (0, 10, 131, 132, 140, 300, 600, len(good) // 2)] + [(good[:-1], False)]
    for mutate, must_fail in (({"Rows": 65535, "Columns": 65535}, True), ({"PhotometricInterpretation": "RGB"}, True),
                              ({"BitsAllocated": 8}, False), ({"Rows": 0}, True), ({"SamplesPerPixel": 3}, True),
                              ({"NumberOfFrames": 7}, True), ({"PixelData": None}, True)):
        ds = dcmread(io.BytesIO(good))
        for key, value in mutate.items():
            if value is None:
                del ds[key]
            else:
                setattr(ds, key, value)
        buf = io.BytesIO()
        ds.save_as(buf)
        out.append((buf.getvalue(), must_fail))
    for _ in range(8):                                    # random byte flips after the preamble
        b = np.frombuffer(good, dtype=np.uint8).copy()
        b[rng.integers(132, len(b), size=20)] = rng.integers(0, 256, size=20, dtype=np.uint8)
        out.append((b.tobytes(), False))
    out.append((b"\x00" * 128 + b"DICM" + rng.bytes(500), True))
    return out


def _image_variants(media, rng) -> list[tuple[bytes, bool]]:
    from PIL import Image

    png = media.png(media.phantom(64, 48))
    buf = io.BytesIO()
    Image.fromarray(media.phantom(64, 48)).save(buf, format="JPEG")
    jpeg = buf.getvalue()
    out = [(png[:n], True) for n in (8, 16, 33, 60, len(png) // 2)] + [(png[:-12], False)]
    out += [(jpeg[:n], True) for n in (3, 20, len(jpeg) // 2)]
    for magic in (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b""):
        out += [(magic + rng.bytes(int(n)), True) for n in (0, 7, 200, 5000)]
    b = bytearray(png)
    b[40:60] = rng.bytes(20)
    out.append((bytes(b), False))
    return out


HUGE = "1" + "0" * 400
BAD_BOXES = [f"[[{HUGE}, 0, 10, 10]]", f"[[0, 0, 10, {HUGE}]]", f'[{{"x0": 0, "y0": 0, "x1": {HUGE}, "y1": 9}}]', "", "null", "{}", "[", "[[1e309, 0, 10, 10]]", "[[NaN, 0, 10, 10]]", "[[true, 0, 10, 10]]",
             "[" * 50000 + "]" * 50000, "[[0, 0, 10, 10]]" * 3, '[{"x0": 1}]', '"[[0,0,1,1]]"',
             json.dumps([[0, 0, 10, 10]] * 500), "[[1e300, 1e300, 1e301, 1e301]]"]

BAD_XML = [BOMB, BOMB.decode().encode("utf-16"), BOMB.decode().replace('"1.0"?', '"1.0" encoding="UTF-16"?')
           .encode("utf-16-le"), XXE, XXE.decode().encode("utf-16"), b"", b"<annotation>", b"<a/>", b"\xff\xfe<\x00a\x00/\x00>\x00", b"<annotation><filename>x</filename>"
           b"<object><name>Acute-L1</name><bndbox><xmin>a</xmin></bndbox></object></annotation>",
           b"<annotation><filename>x</filename><object><name>Purple</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
           b"<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>",
           b"<annotation><filename>x</filename><object><name>acute</name></object></annotation>",
           b"<annotation><filename>x</filename></annotation>", b"<annotation>" + b"<x>" * 5000 + b"</x>" * 5000 + b"</annotation>",
           b"<annotation><filename>x</filename><object><name>acute</name><bndbox><xmin>0</xmin><ymin>0</ymin>"
           b"<xmax>999</xmax><ymax>9</ymax></bndbox></object></annotation>", b"<" * 2_000_000]


def _assert_4xx(r, what):
    assert 400 <= r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    assert set(r.json()) == {"error"}, what


def test_malformed_images_get_4xx(client, media):
    rng = np.random.default_rng(5)
    variants = _dicom_variants(media, rng) + _image_variants(media, rng)
    assert sum(must_fail for _, must_fail in variants) >= 30
    for i, (content, must_fail) in enumerate(variants):
        for path in ("/api/v1/predict", "/api/v1/display"):
            r = client.post(path, files={"image": ("x", content, "application/octet-stream")},
                            data={"boxes": "[[0, 0, 8, 8]]"})
            if must_fail or r.status_code != 200:
                _assert_4xx(r, f"image variant {i} on {path}")


def test_malformed_boxes_and_flags_get_4xx(client, media):
    png = media.png(media.phantom(64, 48))
    for text in BAD_BOXES:
        r = client.post("/api/v1/predict", files={"image": ("x.png", png, "image/png")}, data={"boxes": text})
        _assert_4xx(r, f"boxes {text[:30]!r}")
        r = client.post("/api/v1/predict/batch", files={"image": ("x.png", png, "image/png")}, data={"boxes": text})
        _assert_4xx(r, f"batch boxes {text[:30]!r}")
    r = client.post("/api/v1/predict", files={"image": ("x.png", png, "image/png")},
                    data={"boxes": "[[0, 0, 8, 8]]", "gradcam": "maybe"})
    _assert_4xx(r, "gradcam=maybe")


def test_malformed_xml_gets_4xx_without_expanding_entities(client, media):
    png = media.png(media.phantom(64, 48))
    for i, xml in enumerate(BAD_XML):
        r = client.post("/api/v1/predict", files={"image": ("x.png", png, "image/png"),
                                                  "annotation": ("a.xml", xml, "text/xml")})
        _assert_4xx(r, f"xml {i} on predict")
        assert "root:" not in r.text and len(r.content) < 2000   # /etc/passwd never read, no entity expanded
        r = client.post("/api/v1/annotations", files={"annotation": ("a.xml", xml, "text/xml")})
        if b"<xmax>999</xmax>" in xml:       # outside this image only: fine without one
            assert r.status_code == 200
        else:
            _assert_4xx(r, f"xml {i} on annotations")


def test_malformed_multipart_and_json_bodies_get_4xx(client, media):
    rng = np.random.default_rng(7)
    ctype = "multipart/form-data; boundary=XyZ"
    bodies = [rng.bytes(3000), b"--XyZ\r\n", b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--XyZ--\r\n",
              b"--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a\"\r\n\r\n\x89PNG",
              b"--XyZ\r\nContent-Disposition: form-data; name=\"boxes\"\r\n\r\n\xff\xfe\r\n--XyZ--\r\n",
              b"".join(b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n" for _ in range(200)) + b"--XyZ--\r\n",
              b"--XyZ\r\n" + b"X-Long: " + b"a" * 100_000 + b"\r\n\r\n--XyZ--\r\n"]
    for path in ("/api/v1/predict", "/api/v1/predict/batch", "/api/v1/display", "/api/v1/annotations"):
        for i, body in enumerate(bodies):
            _assert_4xx(client.post(path, content=body, headers={"Content-Type": ctype}), f"body {i} on {path}")
        for header in ("multipart/form-data", "multipart/form-data; boundary=", "text/plain", "application/json"):
            _assert_4xx(client.post(path, content=b"abc", headers={"Content-Type": header}), f"{header} on {path}")
    for body in (b"{", b"[]", b"null", b'{"image": 5}', rng.bytes(500), b"[" * 100_000,
                 json.dumps({"model": {"version": "x"}, "classes": [], "limits": "", "image": {
                     "index": 1, "width": 1, "height": 1, "boxes": [{"index": 1, "box": [0, 0, 1, 1],
                     "probabilities": {}, "predicted": "acute", "heatmap_png": "<script>"}]}}).encode()):
        for fmt in ("html", "csv"):
            r = client.post(f"/api/v1/report?format={fmt}", content=body, headers={"Content-Type": "application/json"})
            _assert_4xx(r, f"report body {body[:30]!r}")


def test_service_still_answers_after_the_fuzz(client, media):
    files, data = media.files(media.png())
    assert client.post("/api/v1/predict", files=files, data=data).status_code == 200


def test_live_server_survives_garbage(live_server, media):
    import httpx

    url = live_server[0]
    rng = np.random.default_rng(11)
    for content in (rng.bytes(4000), media.dicom()[:900], b"\x89PNG\r\n\x1a\n" + rng.bytes(100)):
        r = httpx.post(url + "/api/v1/predict", files={"image": ("x", content)}, data={"boxes": "[[0,0,8,8]]"}, timeout=30)
        assert 400 <= r.status_code < 500, r.text
    with httpx.Client(timeout=30) as c:
        r = c.post(url + "/api/v1/predict", content=b"--b\r\n" + rng.bytes(2000),
                   headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert 400 <= r.status_code < 500, r.text
    files, data = media.files(media.png())
    assert httpx.post(url + "/api/v1/predict", files=files, data=data, timeout=60).status_code == 200


def deflate_bomb(zeros_mib: int = 512) -> bytes:
    """Deflated Explicit VR Little Endian DICOM: file meta, a small DX data set with a private OB element of
    ``zeros_mib`` MiB of zeros, raw-deflated (wbits -15) one MiB at a time: ~0.5 MB, never 512 MiB in memory."""
    import zlib

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import generate_uid

    def explicit(write, item) -> bytes:
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write(fp, item)
        return fp.getvalue()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1.1", generate_uid()
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1.99"
    head, tail = Dataset(), Dataset()           # the elements before and after the private group 0009
    head.SOPClassUID, head.SOPInstanceUID, head.Modality = meta.MediaStorageSOPClassUID, generate_uid(), "DX"
    head.add_new(0x00090010, "LO", "VCFNET FUZZ")
    tail.Rows, tail.Columns, tail.SamplesPerPixel, tail.PhotometricInterpretation = 64, 48, 1, "MONOCHROME2"
    tail.BitsAllocated, tail.BitsStored, tail.HighBit, tail.PixelRepresentation = 16, 12, 11, 0
    tail.PixelData = bytes(64 * 48 * 2)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    element = b"\x09\x00\x10\x10OB\x00\x00" + (zeros_mib << 20).to_bytes(4, "little")   # (0009,1010) OB
    parts = [b"\0" * 128 + b"DICM" + explicit(write_file_meta_info, meta),
             deflate.compress(explicit(write_dataset, head) + element)]
    zeros = bytes(1 << 20)
    parts += [deflate.compress(zeros) for _ in range(zeros_mib)]
    parts += [deflate.compress(explicit(write_dataset, tail)), deflate.flush()]
    return b"".join(parts)


#: Posts the bomb to the service in a fresh process (its peak memory is then the bomb's alone).
_BOMB_RUN = """
import json, resource, sys
from pathlib import Path
from fastapi.testclient import TestClient
from vcfnet.service.app import create_app
from vcfnet.service.settings import Settings

class Stub:
    card, classes = {"input_size": 64, "version": "fuzz"}, ("acute", "chronic", "pathological")
client = TestClient(create_app(Settings(upload_dir=Path(sys.argv[2])), predictor=Stub()))
bomb = open(sys.argv[1], "rb").read()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
codes = [client.post(path, files={"image": ("x.dcm", bomb)}, data={"boxes": "[[0, 0, 8, 8]]"}).status_code
         for path in ("/api/v1/display", "/api/v1/predict")]
print(json.dumps({"codes": codes, "growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024}))
"""


def test_deflate_bomb_is_refused_in_bounded_memory(tmp_path):
    import subprocess
    import sys

    bomb = deflate_bomb()
    assert len(bomb) < 1 << 20
    (tmp_path / "bomb.dcm").write_bytes(bomb)
    done = subprocess.run([sys.executable, "-c", _BOMB_RUN, str(tmp_path / "bomb.dcm"), str(tmp_path / "up")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(400 <= c < 500 for c in result["codes"]), result
    assert result["growth_mib"] < 400, result             # pydicom alone inflates it to over 1 GiB


def test_40000_box_report_is_refused_before_rendering(client):
    box = {"index": 1, "box": [1, 2, 30, 40], "probabilities": {"acute": 0.5, "chronic": 0.3, "pathological": 0.2},
           "predicted": "acute"}
    body = {"model": {"version": "v"}, "classes": ["acute", "chronic", "pathological"], "limits": "l",
            "image": {"index": 1, "width": 64, "height": 48, "boxes": [box] * 40_000}}
    for fmt in ("html", "csv"):
        r = client.post(f"/api/v1/report?format={fmt}", content=json.dumps(body), headers={"Content-Type": "application/json"})
        _assert_4xx(r, f"40,000 boxes as {fmt}")
        assert "max_boxes" in r.json()["error"]["message"]
    body["image"]["boxes"] = [dict(box, box=[0, 0, 5, int(HUGE)])]
    _assert_4xx(client.post("/api/v1/report", content=json.dumps(body), headers={"Content-Type": "application/json"}),
                "400-digit report coordinate")


def test_non_ascii_cookie_on_every_route(make_client):
    from vcfnet.service.security import hash_password

    client = make_client(login_user="reader", login_password_hash=hash_password("correct horse"))
    for value in ("\u00e9", "a.b.\u00ff", "\u00e9" * 3000, "e30.1." + "\u00e0" * 64):
        cookie = {"Cookie": f"vcfnet_session={value}".encode("latin-1")}
        for method, path in (("GET", "/"), ("GET", "/model"), ("GET", "/docs"), ("GET", "/login"),
                             ("GET", "/healthz"), ("GET", "/api/v1/model"), ("POST", "/api/v1/predict"),
                             ("POST", "/logout"), ("POST", "/api/v1/report")):
            r = client.request(method, path, headers=cookie, follow_redirects=False)
            assert r.status_code < 500, (method, path, r.status_code)
            if path.startswith("/api/"):
                _assert_4xx(r, f"cookie {value[:10]!r} on {path}")
