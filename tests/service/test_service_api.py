"""The JSON API on a tiny real checkpoint: predictions agree with the Predictor, batches, model card,
display image, annotations, reports, OpenAPI."""
from __future__ import annotations

import base64
import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

VOC = """<annotation><folder>x</folder><filename>film.png</filename>
<size><width>240</width><height>320</height><depth>1</depth></size>
<object><name>Acute-L1</name><bndbox><xmin>80</xmin><ymin>100</ymin><xmax>170</xmax><ymax>180</ymax></bndbox></object>
<object><name>Chronic-L2</name><bndbox><xmin>60</xmin><ymin>190</ymin><xmax>160</xmax><ymax>260</ymax></bndbox></object>
</annotation>"""


def test_predict_matches_predictor(client, predictor, media):
    image = media.phantom()
    boxes = [[80, 100, 170, 180], [10.5, 20, 60, 90]]
    r = client.post("/api/v1/predict", files={"image": ("a.png", media.png(image), "image/png")},
                    data={"boxes": json.dumps(boxes)})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = predictor.predict(image.astype(np.float32) / 255.0, boxes)
    assert [b["index"] for b in body["image"]["boxes"]] == [1, 2]
    for got, want in zip(body["image"]["boxes"], expected):
        assert got["predicted"] == want.predicted
        assert got["probabilities"] == pytest.approx(want.probabilities, abs=1e-6)
        assert sum(got["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert got["heatmap_png"] is None
    assert body["image"]["width"] == 240 and body["image"]["height"] == 320
    version = predictor.model_card.weights_sha256[:12]        # the weights' hash names the model
    assert body["model"]["version"] == version and body["classes"] == ["acute", "chronic", "pathological"]
    assert "not a medical device" in body["limits"] and "pathological" in body["limits"].lower()
    assert r.headers["x-request-id"] == body["request_id"]


def test_predict_gradcam_returns_overlay_pngs(client, media):
    files, data = media.files(media.png(), [[80, 100, 170, 180]], gradcam=True)
    box = client.post("/api/v1/predict", files=files, data=data).json()["image"]["boxes"][0]
    overlay = Image.open(io.BytesIO(base64.b64decode(box["heatmap_png"])))
    crop = Image.open(io.BytesIO(base64.b64decode(box["crop_png"])))
    assert overlay.size == crop.size == (90, 80)
    assert overlay.mode == "RGB" and crop.mode == "L"
    rgb = np.asarray(overlay).astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 10      # coloured by the heatmap, not grey


def test_predict_with_labelimg_xml(client, media):
    r = client.post("/api/v1/predict", files={"image": ("a.png", media.png(), "image/png"),
                                              "annotation": ("a.xml", VOC.encode(), "text/xml")})
    assert r.status_code == 200, r.text
    boxes = r.json()["image"]["boxes"]
    assert [b["annotation"] for b in boxes] == [{"label": "acute", "level": "L1"}, {"label": "chronic", "level": "L2"}]
    assert boxes[1]["box"] == [60, 190, 160, 260]


def test_batch_matches_single_predictions(client, media):
    a, b = media.phantom(seed=1), media.phantom(200, 300, seed=2)
    boxes = [[[80, 100, 170, 180]], [[10, 10, 100, 100], [150, 20, 290, 190]]]
    r = client.post("/api/v1/predict/batch", data={"boxes": json.dumps(boxes)},
                    files=[("image", ("a.png", media.png(a), "image/png")),
                           ("image", ("b.png", media.png(b), "image/png"))])
    assert r.status_code == 200, r.text
    images = r.json()["images"]
    assert [(i["index"], i["width"], i["height"], len(i["boxes"])) for i in images] == [(1, 240, 320, 1), (2, 300, 200, 2)]
    single = client.post("/api/v1/predict", files={"image": ("b.png", media.png(b), "image/png")},
                         data={"boxes": json.dumps(boxes[1])}).json()["image"]["boxes"]
    for got, want in zip(images[1]["boxes"], single):
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)


def test_batch_box_lists_must_match_images(client, media):
    r = client.post("/api/v1/predict/batch", data={"boxes": json.dumps([[[0, 0, 10, 10]]])},
                    files=[("image", ("a.png", media.png(), "image/png"))] * 2)
    assert r.status_code == 422
    assert "2 images but 1 box lists" in r.json()["error"]["message"]


def test_model_card_display_and_annotations(client, predictor, media):
    card = client.get("/api/v1/model").json()
    assert card["card"]["architecture"] == "resnet18"
    assert card["model"]["version"] == card["card"]["weights_sha256"][:12] == predictor.model_card.weights_sha256[:12]
    assert card["card"]["data"]["n_train"] == 12 and card["card"]["validation"]["epoch"] == 1  # written by training
    shown = client.post("/api/v1/display", files={"image": ("d.dcm", media.dicom(), "application/dicom")}).json()
    assert (shown["width"], shown["height"], shown["scale"]) == (240, 320, 1.0)
    assert shown["meta"]["modality"] == "DX" and "study_date" not in shown["meta"]
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(shown["png"]))))
    # 12-bit stored values without a window: the BitsStored range maps back to the phantom's 8-bit grey
    assert np.abs(png.astype(int) - media.phantom().astype(int)).max() <= 1
    ann = client.post("/api/v1/annotations", files={"annotation": ("a.xml", VOC.encode(), "text/xml")}).json()
    assert [b["box"] for b in ann["boxes"]] == [[80, 100, 170, 180], [60, 190, 160, 260]]


def test_report_csv_and_html(client, media):
    files, data = media.files(media.png(), [[80, 100, 170, 180], [20, 30, 90, 99]], gradcam=True)
    result = client.post("/api/v1/predict", files=files, data=data).json()
    r = client.post("/api/v1/report?format=csv", json=result)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["box"] for row in rows] == ["1", "2"]
    assert rows[1]["x1"] == "90" and rows[0]["predicted"] == result["image"]["boxes"][0]["predicted"]
    assert float(rows[0]["p_chronic"]) == pytest.approx(result["image"]["boxes"][0]["probabilities"]["chronic"], abs=1e-4)
    html = client.post("/api/v1/report?format=html", json=result)
    assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
    assert "not a medical device" in html.text and html.text.count("data:image/png;base64,") == 4
    assert "http://" not in html.text and "https://" not in html.text


def test_report_rejects_non_results(client):
    r = client.post("/api/v1/report?format=html", json={"hello": 1})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    r = client.post("/api/v1/report?format=pdf", json={})
    assert r.status_code == 422 and "html or csv" in r.json()["error"]["message"]


def test_pages_and_openapi(client, predictor):
    page = client.get("/")
    assert page.status_code == 200 and 'id="canvas"' in page.text and "not a medical device" in page.text
    assert "http" not in page.text.replace('href="/', "")       # no CDN, no external URL
    assert "script-src 'self'" in page.headers["content-security-policy"]
    model = client.get("/model")
    assert model.status_code == 200 and "Training data" in model.text and "Validation (model selection)" in model.text
    card = predictor.model_card                   # the fields real training wrote, on the page
    assert card.data.fingerprint in model.text and f"{card.validation.accuracy:.4g}" in model.text
    assert card.selected_by in model.text and "not a medical device" in model.text
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/predict", "/api/v1/predict/batch", "/api/v1/model", "/api/v1/report"):
        assert path in spec["paths"]
    post = spec["paths"]["/api/v1/predict"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"401", "413", "415", "422", "429"} <= set(post["responses"])
    assert client.get("/healthz").json()["status"] == "ok"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/v1/predict/batch" in docs.text and "gradcam" in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
    assert client.get("/redoc").status_code == 404


def test_unknown_route_is_json_error(client):
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_bfloat16_service_loads_the_checkpoint_itself_and_agrees(checkpoint, tmp_path, media):
    import torch
    from fastapi.testclient import TestClient

    from vcfnet.service.app import create_app
    from vcfnet.service.settings import Settings

    threads = torch.get_num_threads()
    try:
        app = create_app(Settings(checkpoint=checkpoint, precision="bfloat16", torch_threads=1, upload_dir=tmp_path))
        assert torch.get_num_threads() == 1
        assert app.state.vcf.predictor.amp_dtype == torch.bfloat16
        files, data = media.files(media.png())
        fast = TestClient(app).post("/api/v1/predict", files=files, data=data).json()["image"]["boxes"][0]
        from vcfnet.predict import Predictor
        want = Predictor(checkpoint).predict(media.phantom().astype(np.float32) / 255.0, [[80, 100, 170, 180]])[0]
        assert fast["probabilities"] == pytest.approx(want.probabilities, abs=0.03)
        assert app.state.vcf.predictor.model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    finally:
        torch.set_num_threads(threads)
