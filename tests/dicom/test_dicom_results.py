"""SR, GSPS and secondary capture of a real Predictor result: valid (dciodvfy 0 errors, highdicom
reads them back) and right field by field when read back with pydicom."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_toys import box_outline as outline
from dicom_toys import content_items as items
from dicom_toys import dciodvfy_report

from vcfnet.dicom import codes
from vcfnet.dicom.identity import card_hash, identity_of
from vcfnet.dicom.results import analyze_file, write_results
from vcfnet.io import read_voc

SECRETS = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber")


def boxes_of(film: Path):
    voc = read_voc(film.with_suffix(".xml"))
    return [(b.x0, b.y0, b.x1, b.y1) for b in voc.boxes], [b.level or None for b in voc.boxes]


@pytest.fixture(scope="module")
def written(films, predictor, tmp_path_factory):
    """Results of every film, Grad-CAM on the first: (film, boxes, levels, results, paths)."""
    out = []
    for i, film in enumerate(films):
        boxes, levels = boxes_of(film)
        results = analyze_file(predictor, film, boxes, levels, gradcam=(i == 0))
        paths = write_results(results, tmp_path_factory.mktemp(f"out{i}"))
        out.append((film, boxes, levels, results, paths))
    return out


def test_every_object_passes_dciodvfy_with_zero_errors(written):
    for _film, _b, _l, _r, paths in written:
        assert [p.name.split("-")[0] for p in paths] == ["sr", "gsps", "sc"]
        for path in paths:
            errors, warnings = dciodvfy_report(path)
            assert errors == [], f"{path.name}: {errors}"
            # the only warning allowed: dciodvfy does not know the private scheme (declared in the object)
            assert all("99VCFNET" in w for w in warnings), warnings


def test_sr_fields_read_back(written, predictor):
    identity = identity_of(predictor.card)
    for film, boxes, levels, _results, paths in written:
        source = pydicom.dcmread(film)
        sr = pydicom.dcmread(paths[0])
        assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"          # Comprehensive 3D SR
        assert sr.StudyInstanceUID == source.StudyInstanceUID
        assert sr.SeriesInstanceUID != source.SeriesInstanceUID
        assert (sr.PatientID, sr.PatientName) == (source.PatientID, source.PatientName)   # back to its PACS
        assert sr.ConceptNameCodeSequence[0].CodeValue == "126000"      # Imaging Measurement Report
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
        assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99VCFNET"
        # the algorithm: observer device, algorithm identification, contributing equipment
        [uid] = items(sr, "121012")                                     # Device Observer UID
        assert uid.UID == identity.device_uid
        names = {i.TextValue for i in items(sr, "111001")}              # Algorithm Name
        assert names == {identity.name}
        params = {i.TextValue for i in items(sr, "111002")}             # Algorithm Parameters
        assert params == {f"model_card_sha256={card_hash(predictor.card)}", "answering_model=image"}
        [equipment] = [e for e in sr.ContributingEquipmentSequence if e.Manufacturer == "vcfnet"]
        assert equipment.DeviceSerialNumber == card_hash(predictor.card)[:16]
        assert equipment.ManufacturerModelName == "vcfnet-resnet18"
        assert equipment.PurposeOfReferenceCodeSequence[0].CodeValue == "109102"   # Processing Equipment
        # one group per box, in order, each checked against the Predictor's own answer
        expected = predictor.predict(str(film), boxes)
        groups = items(sr, "125007")                                    # Measurement Group
        assert len(groups) == len(boxes) >= 1
        for group, box, level, answer in zip(groups, boxes, levels, expected):
            [finding] = items(group, "121071")                          # Finding
            assert finding.ConceptCodeSequence[0].CodeValue == codes.FINDING.value == "42942008"
            [site] = items(group, "363698007")                          # Finding Site
            assert site.ConceptCodeSequence[0].CodeValue == codes.LEVEL_CODES[level].value
            assert codes.level_of(site.ConceptCodeSequence[0].CodeValue) == level
            [klass] = items(group, "fracture-class")
            assert klass.ConceptCodeSequence[0].CodeValue == codes.CLASS_CODES[answer.predicted].value
            [refer] = items(group, "refer")
            assert refer.ConceptCodeSequence[0].CodeValue == (codes.YES if answer.refer else codes.NO).value
            for cls, p in answer.probabilities.items():
                [m] = items(group, f"p-{cls}")
                value = float(m.MeasuredValueSequence[0].NumericValue)
                assert value == pytest.approx(p, abs=1e-6)
                assert m.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "1"
            [region] = items(group, "111030")                           # Image Region
            assert region.ValueType == "SCOORD" and region.GraphicType == "POLYLINE"
            assert np.allclose([float(v) for v in region.GraphicData], outline(box))
            ref = region.ContentSequence[0].ReferencedSOPSequence[0]
            assert ref.ReferencedSOPInstanceUID == source.SOPInstanceUID


def test_highdicom_reads_the_report_back(written):
    import highdicom as hd

    for _film, boxes, levels, _results, paths in written:
        sr = hd.sr.srread(paths[0])
        groups = sr.content.get_planar_roi_measurement_groups()
        assert len(groups) == len(boxes)
        for group, box, level in zip(groups, boxes, levels):
            assert group.finding_type.value == "42942008"
            assert group.finding_sites[0].value.value == codes.LEVEL_CODES[level].value
            assert len(group.get_measurements()) == 3
            assert np.allclose(group.roi.value.ravel(), outline(box))


def test_gsps_draws_each_box_and_label(written):
    for film, boxes, _levels, results, paths in written:
        source = pydicom.dcmread(film)
        gsps = pydicom.dcmread(paths[1])
        assert gsps.SOPClassUID == "1.2.840.10008.5.1.4.1.1.11.1"       # Grayscale Softcopy PS
        assert gsps.StudyInstanceUID == source.StudyInstanceUID
        assert gsps.SeriesInstanceUID not in (source.SeriesInstanceUID, pydicom.dcmread(paths[0]).SeriesInstanceUID)
        ref = gsps.ReferencedSeriesSequence[0]
        assert ref.SeriesInstanceUID == source.SeriesInstanceUID
        assert ref.ReferencedImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
        assert gsps.GraphicLayerSequence[0].GraphicLayer == "VCFNET"
        [annotation] = gsps.GraphicAnnotationSequence
        assert annotation.GraphicLayer == "VCFNET"
        drawn = [[float(v) for v in g.GraphicData] for g in annotation.GraphicObjectSequence]
        assert [np.allclose(d, outline(b)) for d, b in zip(drawn, boxes)] == [True] * len(boxes)
        assert all(g.GraphicAnnotationUnits == "PIXEL" for g in annotation.GraphicObjectSequence)
        texts = [t.UnformattedTextValue for t in annotation.TextObjectSequence]
        assert texts == [f.label for f in results.findings]
        assert texts[0].startswith(results.findings[0].level) and texts[0].endswith("%")
        assert "vcfnet" in [e.Manufacturer for e in gsps.ContributingEquipmentSequence]


def test_secondary_capture_burns_in_the_boxes(written):
    for film, boxes, _levels, _results, paths in written:
        source = pydicom.dcmread(film)
        sc = pydicom.dcmread(paths[2])
        assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"            # Secondary Capture
        assert (sc.StudyInstanceUID, sc.PatientID) == (source.StudyInstanceUID, source.PatientID)
        assert sc.BurnedInAnnotation == "YES" and list(sc.ImageType) == ["DERIVED", "SECONDARY"]
        assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
        rgb = sc.pixel_array
        assert rgb.shape == (source.Rows, source.Columns, 3)
        x0, y0, x1, y1 = (int(v) for v in boxes[0])
        assert tuple(rgb[(y0 + y1) // 2, x0]) == (255, 230, 0)         # the box's left edge, in its colour
        assert tuple(rgb[y1 - 1, (x0 + x1) // 2]) == (255, 230, 0)     # and its bottom edge
    heat = pydicom.dcmread(written[0][4][2]).pixel_array     # the Grad-CAM film: colour inside the box
    x0, y0, x1, y1 = (int(v) for v in written[0][1][0])
    inside = heat[y0 + 3:y1 - 3, x0 + 3:x1 - 3].astype(int)
    assert np.abs(inside[..., 0] - inside[..., 2]).mean() > 10
    plain = pydicom.dcmread(written[1][4][2]).pixel_array.astype(int)
    x0, y0, x1, y1 = (int(v) for v in written[1][1][0])
    inside = plain[y0 + 3:y1 - 3, x0 + 3:x1 - 3]
    assert np.abs(inside[..., 0] - inside[..., 2]).max() == 0            # no heatmap asked: grey


def test_same_model_same_uids_new_model_new_device(films, predictor, tmp_path):
    import torch

    from vcfnet.model.checkpoint import save_checkpoint
    from vcfnet.predict import Predictor

    boxes, levels = boxes_of(films[0])
    first = analyze_file(predictor, films[0], boxes, levels)
    again = analyze_file(predictor, films[0], boxes, levels)
    assert [d.SOPInstanceUID for d in first.datasets] == [d.SOPInstanceUID for d in again.datasets]
    assert len({d.SeriesInstanceUID for d in first.datasets}) == 3
    # a retrained model: other weights, a new checkpoint -> a new model-card hash and device identity
    from vcfnet.model.network import build_model

    torch.manual_seed(1)
    model = build_model("resnet18", weights=None)
    model.input_size = 64
    retrained = Predictor(save_checkpoint(tmp_path / "best", model.eval(), dict(predictor.card)))
    new, old = identity_of(retrained.card), identity_of(predictor.card)
    assert new.model_hash != old.model_hash and new.device_uid != old.device_uid
    moved = analyze_file(retrained, films[0], boxes, levels)
    assert moved.sr.SOPInstanceUID != first.sr.SOPInstanceUID


def test_real_dicoms_as_sources(dicom_dir, predictor, tmp_path):
    """A real MONOCHROME1 DX (uncompressed) and a real CR (JPEG lossless) as the source images."""
    for name in ("dx_image.dcm", "RG2_JPLL.dcm"):
        source = pydicom.dcmread(dicom_dir / name, stop_before_pixels=True)
        box = (source.Columns * 0.3, source.Rows * 0.3, source.Columns * 0.6, source.Rows * 0.6)
        results = analyze_file(predictor, dicom_dir / name, [box], ["L2"])
        paths = write_results(results, tmp_path / name)
        for path in paths:
            errors, _ = dciodvfy_report(path)
            assert errors == [], f"{name} -> {path.name}: {errors}"
        sr = pydicom.dcmread(paths[0])
        assert sr.StudyInstanceUID == source.StudyInstanceUID
        [region] = items(sr, "111030")
        assert np.allclose([float(v) for v in region.GraphicData], outline(box))
        assert pydicom.dcmread(paths[2]).pixel_array.shape == (source.Rows, source.Columns, 3)


def test_logs_carry_no_identifier(films, predictor, tmp_path, caplog):
    source = pydicom.dcmread(films[0], stop_before_pixels=True)
    boxes, levels = boxes_of(films[0])
    with caplog.at_level(logging.DEBUG):
        write_results(analyze_file(predictor, films[0], boxes, levels), tmp_path)
    text = caplog.text + " ".join(p.name for p in tmp_path.iterdir())
    for keyword in SECRETS:
        value = str(source.get(keyword, "")).strip()
        assert value and value not in text, keyword


def test_a_png_is_refused_with_one_line(predictor, tmp_path):
    from PIL import Image

    from vcfnet.errors import VcfnetError

    png = tmp_path / "film.png"
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(png)
    with pytest.raises(VcfnetError, match="not a DICOM file"):
        analyze_file(predictor, png, [(0, 0, 32, 32)], [None])


def test_vcfnet_pacs_write_end_to_end(films, checkpoint, tmp_path, capsys):
    from vcfnet.cli import main

    film = films[2]
    assert main(["pacs", "write", str(checkpoint), str(film), "--boxes-xml", str(film.with_suffix(".xml")),
                 "--out", str(tmp_path / "out"), "--gradcam"]) == 0
    printed = capsys.readouterr().out
    written = sorted((tmp_path / "out").glob("*.dcm"))
    assert sorted(p.name.split("-")[0] for p in written) == ["gsps", "sc", "sr"]
    assert all(str(p) in printed for p in written)
    assert pydicom.dcmread(film).StudyInstanceUID == pydicom.dcmread(written[0]).StudyInstanceUID
    assert main(["pacs", "write", str(checkpoint), str(film.with_suffix(".xml")), "--boxes-xml",
                 str(film.with_suffix(".xml")), "--out", str(tmp_path / "bad")]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "bad").exists()


#: An image+clinical stacker and a referral rule above every confidence, made by hand as in
#: tests/predict/test_referral.py: a man pushes 'pathological' up; every box is referred.
ENCODING = {"columns": [{"name": "age", "kind": "numeric", "low": 50, "high": 90, "mean": 70, "sd": 10},
                        {"name": "sex", "kind": "categorical", "levels": ["F", "M"]}]}
PARAMS = {"a": np.eye(3).tolist(), "w": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 3.0, 0]], "b": [0, 0, 0], "l2": 1.0}
RULE = {"rule": "refer_fraction", "value": 0.25, "threshold": 1.1, "confidence": "top-class probability",
        "split": "val", "n": 40, "refer_rate": 0.25, "answered_accuracy": 0.9}


def test_image_clinical_card_answers_from_the_header_and_refers(films, predictor, tmp_path):
    from vcfnet.io import read_radiograph
    from vcfnet.model.clinical import header_values
    from vcfnet.predict import Predictor

    clinical = Predictor.from_model(predictor.model, {
        **predictor.card, "referral": {"image": RULE, "clinical": RULE},
        "clinical": {"design": "stacker", "encoding": ENCODING, "image_inputs": "log softmax", "params": PARAMS,
                     "split": "val", "n_vertebrae": 40, "n_patients": 30}})
    film = films[0]
    boxes, levels = boxes_of(film)
    values = header_values(read_radiograph(film).meta)
    assert values.get("sex") in ("F", "M") and values.get("age")          # the synthetic header has both
    expected = clinical.predict(str(film), boxes, clinical=values)
    results = analyze_file(clinical, film, boxes, levels)
    [path, gsps_path, _] = write_results(results, tmp_path)
    sr = pydicom.dcmread(path)
    assert {i.TextValue for i in items(sr, "111002")} >= {"answering_model=image+clinical"}
    for group, answer in zip(items(sr, "125007"), expected):
        assert answer.model == "image+clinical" and answer.refer
        assert items(group, "refer")[0].ConceptCodeSequence[0].CodeValue == codes.YES.value
        [m] = items(group, f"p-{answer.predicted}")
        assert float(m.MeasuredValueSequence[0].NumericValue) == pytest.approx(answer.probabilities[answer.predicted],
                                                                                abs=1e-6)
    texts = [t.UnformattedTextValue for t in pydicom.dcmread(gsps_path).GraphicAnnotationSequence[0].TextObjectSequence]
    assert all(t.endswith(" REFER") for t in texts)
    errors, _ = dciodvfy_report(path)
    assert errors == []


def test_values_the_user_gave_override_the_header_as_on_the_page(films, predictor):
    """Send to PACS writes the answer the page showed: the page's (edited) age and sex, then the header's."""
    from vcfnet.io import read_radiograph
    from vcfnet.model.clinical import header_values
    from vcfnet.predict import Predictor

    clinical = Predictor.from_model(predictor.model, {
        **predictor.card, "clinical": {"design": "stacker", "encoding": ENCODING, "image_inputs": "log softmax",
                                       "params": PARAMS, "split": "val", "n_vertebrae": 40, "n_patients": 30}})
    film = films[0]
    boxes, levels = boxes_of(film)
    header = header_values(read_radiograph(film).meta)
    other = "F" if header["sex"] == "M" else "M"
    edited = clinical.predict(str(film), boxes, clinical={"age": header["age"], "sex": other})
    from_header = clinical.predict(str(film), boxes, clinical=header)
    results = analyze_file(clinical, film, boxes, levels, clinical={"sex": other})
    for group, want, not_want in zip(items(results.sr, "125007"), edited, from_header):
        [m] = items(group, "p-pathological")
        value = float(m.MeasuredValueSequence[0].NumericValue)
        assert value == pytest.approx(want.probabilities["pathological"], abs=1e-6)
        assert value != pytest.approx(not_want.probabilities["pathological"], abs=1e-3)
