"""Runnable checks CI runs on a real workspace (.ci/run), after `dvc repro`: `python -m src.ci.<check>`."""
