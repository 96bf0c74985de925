"""Findings -> the smallest plan that fixes them, as data."""
