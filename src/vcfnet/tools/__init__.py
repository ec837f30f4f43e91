"""Docs and test tooling, not a stage of the pipeline: simulated predictions tables with a known signal
(:mod:`vcfnet.tools.simulate`) and headless-Chromium screenshots of a report
(:mod:`vcfnet.tools.screenshot`). Tools may import the stages; no stage imports a tool."""
