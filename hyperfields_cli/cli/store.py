"""Artifact commands: list, show, pull, push (being built)."""
