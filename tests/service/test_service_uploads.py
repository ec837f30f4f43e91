"""Upload limits (413), content checks (415/400), box checks (422), timeouts (504), private temp
directories deleted after use, and no patient identifier in responses, logs or kept files."""
from __future__ import annotations

import logging
import struct
import time
import zlib

import httpx
import pytest


def _error(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]["message"]


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's calling card)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_413_from_content_length_and_from_streamed_bytes(make_client, media):
    client = make_client(max_upload_mb=0.05)            # 52 kB
    big = media.png(media.phantom(400, 400, seed=3)) + b"\x00" * 60_000
    files, data = media.files(big)
    assert "max_upload_mb" in _error(client.post("/api/v1/predict", files=files, data=data), 413)
    request = client.build_request("POST", "/api/v1/predict", files=files, data=data)
    body, ctype = request.read(), request.headers["content-type"]

    def chunks():          # no Content-Length: the limit must hold while streaming
        for i in range(0, len(body), 8192):
            yield body[i:i + 8192]
    r = client.post("/api/v1/predict", content=chunks(), headers={"Content-Type": ctype})
    assert "content-length" not in r.request.headers
    _error(r, 413)


def test_413_for_huge_image_dimensions(client, media):
    files, data = media.files(png_header(60000, 60000))
    assert "MP" in _error(client.post("/api/v1/predict", files=files, data=data), 413)
    files, data = media.files(png_header(9000, 9000))          # 81 MP: under Pillow's own limit, over ours
    assert "max_image_megapixels" in _error(client.post("/api/v1/predict", files=files, data=data), 413)


@pytest.mark.parametrize("content, expected", [
    (b"just some text, not an image", "DICOM"),
    (b"<annotation></annotation>", "XML"),
    (b"%PDF-1.4 ...", "PDF"),
    (b"", "empty"),
])
def test_415_for_non_images_says_what_was_expected(client, media, content, expected):
    files, data = media.files(content)
    message = _error(client.post("/api/v1/predict", files=files, data=data), 415)
    assert expected in message and "PNG" in message


def test_415_for_a_form_that_is_not_multipart(client):
    message = _error(client.post("/api/v1/predict", json={"image": "x"}), 415)
    assert "multipart/form-data" in message


def test_400_for_unreadable_dicom_and_truncated_png(client, media):
    dicom = media.dicom()
    for broken in (dicom[:200], dicom[:-20000], media.png()[:300]):
        files, data = media.files(broken)
        message = _error(client.post("/api/v1/predict", files=files, data=data), 400)
        assert message.startswith("image 1:")


def test_400_for_real_broken_jpeg2000_dicom(client, dicom_dir, media):
    files, data = media.files((dicom_dir / "966.dcm").read_bytes(), [[0, 0, 10, 10]])
    message = _error(client.post("/api/v1/predict", files=files, data=data), 400)
    assert "966" not in message and "/tmp" not in message     # no server-side path in messages


@pytest.mark.parametrize("boxes, fragment", [
    ([[80, 100, 170, 180], [10, 10, 300, 50]], "box 2 [10, 10, 300, 50]: outside the 240x320 image"),
    ([[50, 50, 50, 90]], "box 1 [50, 50, 50, 90]: zero or negative area"),
    ([[90, 50, 20, 80]], "box 1 [90, 50, 20, 80]: zero or negative area"),
    ([[-1, 0, 10, 10]], "outside"),
    ([[1, 2, 3]], "box 1: expected four numbers"),
    ([["a", 2, 3, 4]], "box 1: expected four numbers"),
    ([], "no boxes"),
    ({"x": 1}, "must be a JSON list"),
])
def test_422_for_bad_boxes_names_the_box(client, media, boxes, fragment):
    files, data = media.files(media.png(), boxes)
    assert fragment in _error(client.post("/api/v1/predict", files=files, data=data), 422)


def test_422_for_boxes_that_are_not_json(client, media):
    files, _ = media.files(media.png())
    assert "not valid JSON" in _error(client.post("/api/v1/predict", files=files, data={"boxes": "[[1,2,"}), 422)
    assert "no boxes" in _error(client.post("/api/v1/predict", files=files), 422)


def test_504_when_inference_outlasts_the_timeout(make_client, predictor, checkpoint, tmp_path, media):
    from fastapi.testclient import TestClient

    from vcfnet.service.app import create_app
    from vcfnet.service.settings import Settings

    class SlowPredictor:       # the real Predictor, answering late
        card, classes = predictor.card, predictor.classes

        def predict(self, *args, **kwargs):
            time.sleep(1.0)
            return predictor.predict(*args, **kwargs)
    app = create_app(Settings(checkpoint=checkpoint, request_timeout_s=0.3, upload_dir=tmp_path / "up"),
                     predictor=SlowPredictor())
    files, data = media.files(media.png())
    assert "request_timeout_s" in _error(TestClient(app).post("/api/v1/predict", files=files, data=data), 504)


def test_uploads_are_deleted_after_use(make_client, tmp_path, media):
    client = make_client(upload_dir=tmp_path / "up")
    files, data = media.files(media.png())
    assert client.post("/api/v1/predict", files=files, data=data).status_code == 200
    files, data = media.files(b"not an image")
    assert client.post("/api/v1/predict", files=files, data=data).status_code == 415
    assert list((tmp_path / "up").iterdir()) == []


def test_uploads_kept_when_asked_in_private_dirs(make_client, tmp_path, media):
    client = make_client(upload_dir=tmp_path / "up", keep_uploads=True)
    files, data = media.files(media.png(), name="Quixotica^Zyxwvutson.png")
    assert client.post("/api/v1/predict", files=files, data=data).status_code == 200
    [kept] = list((tmp_path / "up").iterdir())
    assert kept.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in kept.iterdir()] == ["upload-0"]          # never the client's file name
    assert (kept / "upload-0").read_bytes() == files["image"][1]


def test_no_patient_identifier_in_responses_logs_or_files(make_client, tmp_path, media, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(upload_dir=tmp_path / "up", keep_uploads=True)
    dicom, name = media.dicom(), "Quixotica^Zyxwvutson_PID-98765-XQ.dcm"
    assert all(w.encode() in dicom for w in ("Quixotica", "PID-98765-XQ", "19230417", "ACC55501ZZ"))
    texts = []
    files, data = media.files(dicom, name=name, gradcam=True)
    result = client.post("/api/v1/predict", files=files, data=data)
    assert result.status_code == 200
    texts += [result.text, client.post("/api/v1/display", files={"image": (name, dicom, "application/dicom")}).text]
    texts += [client.post(f"/api/v1/report?format={f}", json=result.json()).text for f in ("csv", "html")]
    for broken in (dicom[:-20000], dicom[:700]):       # error messages too
        files, data = media.files(broken, name=name)
        texts.append(client.post("/api/v1/predict", files=files, data=data).text)
    files, data = media.files(dicom, [[0, 0, 9999, 10]], name=name)
    texts.append(client.post("/api/v1/predict/batch", files=files, data={"boxes": "[[[0, 0, 9999, 10]]]"}).text)
    texts.append(caplog.text)
    texts += [str(p) for p in (tmp_path / "up").rglob("*")]
    joined = "\n".join(texts).lower()
    for word in media.secret_words:
        assert word.lower() not in joined, word
    assert "image 1" in joined          # the messages are there, just without identifiers


def test_live_server_logs_carry_no_identifiers(live_server, media):
    url, log_path, uploads = live_server
    name = "Quixotica^Zyxwvutson.dcm"
    files, data = media.files(media.dicom(), name=name, gradcam=True)
    r = httpx.post(url + "/api/v1/predict", files=files, data=data, timeout=60)
    assert r.status_code == 200, r.text
    files, data = media.files(media.dicom()[:-20000], name=name)
    assert httpx.post(url + "/api/v1/predict", files=files, data=data, timeout=60).status_code == 400
    log = log_path.read_text()
    assert "POST /api/v1/predict -> 200" in log and r.headers["x-request-id"] in log
    for word in media.secret_words:
        assert word not in log and word not in r.text
    assert not uploads.exists() or list(uploads.iterdir()) == []
