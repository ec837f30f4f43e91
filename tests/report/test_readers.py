"""The reader-study section of the report: its folder (readers.json, table3.csv, reads.csv, Figure 6),
the section rendered when readers.json is there and absent when it is not."""
from __future__ import annotations

import json
import shutil
import warnings

import pandas as pd
import pytest

from vcfnet.labels import CLASSES


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory):
    """An evaluation folder (simulated predictions) with simulated readers' analysis in readers/."""
    from vcfnet.readers.analysis import analyze_reads
    from vcfnet.readers.simulate import simulate_reads
    from vcfnet.report.evaluate import evaluate_predictions
    from vcfnet.report.outputs import write_evaluation
    from vcfnet.report.readers import write_reader_analysis
    from vcfnet.tools.simulate import simulate_predictions

    table = simulate_predictions(seed=2)
    out = tmp_path_factory.mktemp("eval")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_evaluation(evaluate_predictions(table), out, figures=False)
        cases = table[table["collaboration"] == 1]
        reads = simulate_reads(cases, readers_per_tier=2, seed=0)
        result = analyze_reads(reads, table[["roi_id", "patient_id", "label"]], table)
    write_reader_analysis(result, out / "readers", reads)
    return out


def test_the_folder_holds_every_number_table3_the_reads_and_figure6(eval_dir):
    folder = eval_dir / "readers"
    data = json.loads((folder / "readers.json").read_text())      # strict JSON: no NaN
    assert data["simulated"] is True and data["n_readers"] == 6
    assert sorted(data["files"]) == sorted(["table3.csv", "reads.csv"] + [f"figures/figure6_{c}.{e}" for c in CLASSES
                                                                          for e in ("png", "svg")])
    t3 = pd.read_csv(folder / "table3.csv")
    assert list(t3["row"].value_counts().sort_index().items()) == [("model", 1), ("reader", 12), ("tier mean", 8)]
    assert (t3.loc[t3["row"] == "reader", "simulated"] == 1).all()
    r1 = data["readers"][0]
    row = t3[(t3["reader"] == r1["reader"]) & (t3["session"] == "aided")].iloc[0]
    assert row["auc_acute"] == pytest.approx(r1["sessions"]["aided"]["classes"]["acute"]["auc"]["auc"], abs=5e-4)
    assert row["accuracy_p_change"] == pytest.approx(r1["change"]["accuracy"]["p_value"], abs=5e-5)
    from vcfnet.readers.reads import read_reads_csv
    assert (read_reads_csv(folder / "reads.csv")["simulated"] == 1).all()
    for cls in CLASSES:
        png = (folder / "figures" / f"figure6_{cls}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        svg = (folder / "figures" / f"figure6_{cls}.svg").read_text()
        assert "simulated" in svg and "unaided" in svg


def test_figure6_keeps_its_legend_outside_the_data_and_says_simulated(eval_dir):
    from vcfnet.report.readers import figure6

    data = json.loads((eval_dir / "readers" / "readers.json").read_text())
    fig = figure6(data, "chronic")
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 < ax.get_window_extent().y0               # below the axes, not over the points
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1:4] == ["trainee (simulated)", "competent (simulated)", "expert (simulated)"]
    assert "simulated readers" in ax.get_title()
    # one hollow and one filled marker per reader, an arrow where they differ
    assert len([ln for ln in ax.lines if ln.get_marker() in ("o", "s", "^")]) == 2 * 6
    assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= 10
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_the_report_has_the_section_only_with_the_analysis(eval_dir, tmp_path):
    from vcfnet.report.html import render_report

    html = render_report(eval_dir)
    assert '<section id="readers">' in html and 'href="#readers"' in html
    assert "Reader study: simulated readers with and without the model" in html
    assert "Simulated readers.</strong>" in html
    assert html.count('alt="ROC curve of the model for') == 3
    assert "Obuchowski-Rockette" in html and "F(1, " in html
    data = json.loads((eval_dir / "readers" / "readers.json").read_text())
    acc = data["mrmc"]["or"]["accuracy"]
    assert (f"<th scope=\"row\">3-class accuracy</th><td>{acc['auc']['unaided']:.3f}</td>"
            f"<td>{acc['auc']['aided']:.3f}</td>") in html
    r = data["readers"][0]
    assert r["reader"] in html and "sim-expert-2" in html
    # Table 6: OR, DBM and the model as a fixed reader side by side, from readers.json's numbers
    assert '<table class="numbers mrmc">' in html and "Model − unaided readers" in html
    from html import escape

    from vcfnet.report.readers import mrmc_table_rows
    rows = {row["what"]: row for row in mrmc_table_rows(data)}
    chronic, mv = data["mrmc"]["or"]["chronic"], data["mrmc"]["model_vs_readers"]["chronic"]
    assert rows["AUC chronic"]["diff"] == f"{chronic['diff']:.3f} [{chronic['ci_low']:.3f} to {chronic['ci_high']:.3f}]"
    assert rows["AUC chronic"]["model"] == f"{mv['model_fom']:.3f}"
    assert rows["AUC chronic"]["model_vs"] == f"{mv['diff']:.3f} [{mv['ci_low']:.3f} to {mv['ci_high']:.3f}]"
    assert rows["AUC chronic"]["model_test"].startswith(f"t({mv['df']:.1f}) = {mv['t_stat']:.2f}, p")
    assert rows["AUC chronic"]["or_delong"].startswith("DeLong covariances: p")
    assert rows["3-class accuracy"]["or"] == rows["3-class accuracy"]["dbm"]       # jackknife DBM = ORH
    assert rows["3-class accuracy"]["or_delong"] == ""                              # AUCs only
    for row in rows.values():
        assert all(escape(row[k]) in html for k in ("diff", "model_vs", "model_test", "or", "or_delong", "dbm"))
    bare = tmp_path / "eval"
    shutil.copytree(eval_dir, bare, ignore=shutil.ignore_patterns("readers"))
    html = render_report(bare)
    assert 'id="readers"' not in html and "simulated readers" not in html


@pytest.mark.browser
def test_table6_fits_a_laptop_and_figure6_prints_two_per_row(eval_dir, tmp_path):
    """In Chromium: Table 6 needs no horizontal scrolling on a laptop screen, and in print each Figure 6
    panel takes about half the text width (at a third its 10 pt text printed at about 5 pt)."""
    import os
    from pathlib import Path

    from vcfnet.report.html import write_report
    from vcfnet.tools.screenshot import CHROMIUM, LAPTOP, LAUNCH_ARGS, open_report

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} missing under CI")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    html = write_report(eval_dir, tmp_path / "report.html")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP)
            assert open_report(page, html) == []
            wrap = page.eval_on_selector("table.mrmc", "t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]")
            page.set_viewport_size({"width": 720, "height": 1000})       # A4 text width at 96 px/inch
            page.emulate_media(media="print")
            widths = page.eval_on_selector_all("#readers .figrow img", "els => els.map(e => e.getBoundingClientRect().width)")
        finally:
            browser.close()
    assert wrap[0] <= wrap[1], wrap
    assert len(widths) == 3 and all(w >= 0.4 * 720 for w in widths), widths
