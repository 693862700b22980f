"""Exploratory analysis of the listening data: aggregates, statistics, findings and charts."""
