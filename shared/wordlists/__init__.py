"""Bundled, sourced word lists the audit, the bias probes and output monitoring share (each file names its source)."""
