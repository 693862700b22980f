"""Evaluation without Django: leakage-free splits and metrics with their definitions."""
