"""The centre-point network's targets, losses and decoding, against hand-made maps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vcfnet.detect.heatmap import POINTS_WEIGHT, STRIDE, CentreNet, build_targets, centre_loss, decode, focal_loss


def _maps(rows: int, cols: int) -> dict[str, torch.Tensor]:
    return {"heat": torch.full((1, 1, rows, cols), -10.0), "level": torch.zeros(1, 9, rows, cols),
            "size": torch.zeros(1, 2, rows, cols), "offset": torch.zeros(1, 2, rows, cols),
            "points": torch.zeros(1, 12, rows, cols)}


def test_decode_reads_boxes_levels_and_points_at_the_peaks():
    out = _maps(16, 12)
    # a body centred at cell (x 5, y 7) + offset (0.25, 0.5): input pixels (21, 30); 8 x 6 cells = 32 x 24 px
    out["heat"][0, 0, 7, 5] = 4.0
    out["heat"][0, 0, 7, 6] = 1.0                  # a shoulder next to the peak: not a peak of its own
    out["heat"][0, 0, 2, 2] = 0.0                  # a weaker second body
    out["offset"][0, :, 7, 5] = torch.tensor([0.25, 0.5])
    out["size"][0, :, 7, 5] = torch.log(torch.tensor([8.0, 6.0]))
    out["level"][0, 4, 7, 5] = 3.0                 # L2
    out["points"][0, :, 7, 5] = torch.tensor([-3.0, -2.5, 0, -3, 3, -2.5, -3, 3, 0, 3.5, 3, 3])
    d = decode(out, max_peaks=3)[0]
    assert d["scores"][0] == pytest.approx(1 / (1 + np.exp(-4.0)), abs=1e-6)
    assert d["scores"][1] == pytest.approx(0.5, abs=1e-6) and d["scores"][2] < 1e-3
    np.testing.assert_allclose(d["boxes"][0], [21 - 16, 30 - 12, 21 + 16, 30 + 12], atol=1e-4)
    assert d["levels"][0] == 4
    probs = d["level_probs"][0]                    # softmax over the nine levels: e^3 against eight e^0
    assert probs.shape == (9,) and probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert probs[4] == pytest.approx(np.exp(3.0) / (np.exp(3.0) + 8), abs=1e-6)
    np.testing.assert_allclose(d["points"][0, 0], [(5 - 3) * STRIDE, (7 - 2.5) * STRIDE])
    np.testing.assert_allclose(d["points"][0, 4], [5 * STRIDE, (7 + 3.5) * STRIDE])


def test_targets_decoded_give_back_the_annotations():
    boxes = np.array([[20, 30, 60, 58], [24, 62, 66, 95]], np.float32)
    points = np.stack([np.array([[b[0] + 2, b[1]], [(b[0] + b[2]) / 2, b[1]], [b[2] - 2, b[1]],
                                 [b[0] + 2, b[3]], [(b[0] + b[2]) / 2, b[3]], [b[2] - 2, b[3]]]) for b in boxes])
    t = build_targets(boxes, np.array([5, 6]), points.astype(np.float32), np.ones((2, 6), bool), (32, 24))
    assert t["mask"].sum() == 2 and t["heat"].max() == 1.0 and (t["heat"] == 1.0).sum() == 2
    out = _maps(32, 24)
    for k in range(2):
        iy, ix = divmod(int(t["index"][k]), 24)
        out["heat"][0, 0, iy, ix] = 5.0
        out["offset"][0, :, iy, ix] = torch.from_numpy(t["offset"][k])
        out["size"][0, :, iy, ix] = torch.from_numpy(t["size"][k])
        out["points"][0, :, iy, ix] = torch.from_numpy(t["points"][k])
        out["level"][0, int(t["level"][k]), iy, ix] = 2.0
    d = decode(out, max_peaks=2)[0]
    order = np.argsort(d["boxes"][:, 1])
    np.testing.assert_allclose(d["boxes"][order], boxes, atol=1e-3)
    np.testing.assert_allclose(d["points"][order], points, atol=1e-3)
    assert d["levels"][order].tolist() == [5, 6]


@pytest.fixture
def one_thread():
    """A tiny network runs best on one thread (two threads on a shared 2-core machine spin-wait: 10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_losses_are_small_for_the_right_answer_and_the_network_learns_one_film(one_thread):
    boxes = np.array([[20, 30, 60, 58]], np.float32)
    points = np.tile(np.array([[30, 40]], np.float32), (1, 6, 1))
    t = {k: torch.from_numpy(v)[None] for k, v in build_targets(boxes, np.array([2]), points, np.ones((1, 6), bool),
                                                                 (16, 16)).items()}
    perfect = torch.where(t["heat"] == 1, torch.tensor(9.0), torch.tensor(-9.0))
    assert float(focal_loss(perfect, t["heat"])) < 0.05 < float(focal_loss(torch.zeros_like(perfect), t["heat"]))
    torch.manual_seed(0)
    net = CentreNet(width=8, neck=16)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    x = torch.zeros(1, 1, 64, 64)
    x[0, 0, 30:58, 20:60] = 1.0
    first = None
    for _ in range(30):
        losses = centre_loss(net(x), t)
        total = sum(losses.values())
        first = float(total.detach()) if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    assert float(total.detach()) < 0.5 * first


def test_a_body_with_no_level_target_is_still_a_body_to_find():
    """A transitional T13 / L6 (label -1): heat, box and landmarks are learnt, the level loss ignores it."""
    boxes = np.array([[20, 30, 60, 58], [24, 62, 66, 95]], np.float32)
    points = np.tile(np.array([[30, 40]], np.float32), (2, 6, 1))
    t = build_targets(boxes, np.array([5, -1]), points, np.ones((2, 6), bool), (32, 24))
    assert t["mask"].sum() == 2 and (t["heat"] == 1.0).sum() == 2 and t["level"][1] == -100
    tt = {k: torch.from_numpy(v)[None] for k, v in t.items()}
    out = _maps(32, 24)
    iy, ix = divmod(int(t["index"][0]), 24)
    out["level"][0, 5, iy, ix] = 20.0              # the labelled body's level right: no level loss at all
    assert float(centre_loss(out, tt)["level"]) < 1e-6
    out["level"][0, 5, iy, ix] = 0.0               # ... and uniform: log 9, over the one labelled body only
    assert float(centre_loss(out, tt)["level"]) == pytest.approx(np.log(9), abs=1e-5)


def test_a_body_s_landmark_weight_scales_its_share_of_the_landmark_loss():
    boxes = np.array([[20, 30, 60, 58], [24, 62, 66, 95]], np.float32)
    points = np.tile(np.array([[30, 40]], np.float32), (2, 6, 1))
    t = build_targets(boxes, np.array([5, 6]), points, np.ones((2, 6), bool), (32, 24), np.array([5.0, 1.0]))
    assert t["points_mask"][0].tolist() == [5.0] * 12 and t["points_mask"][1].tolist() == [1.0] * 12
    tt = {k: torch.from_numpy(v)[None] for k, v in t.items()}
    out = _maps(32, 24)
    for k, off in ((0, 1.0), (1, 0.0)):        # only the weighted body's points are off, by one cell each
        iy, ix = divmod(int(t["index"][k]), 24)
        out["points"][0, :, iy, ix] = torch.from_numpy(t["points"][k]) + off
    assert float(centre_loss(out, tt)["points"]) == pytest.approx(POINTS_WEIGHT * 5 * 12 / (5 * 12 + 12), rel=1e-3)
