"""Extractive question answering (SQuAD-style spans)."""
