"""Validation of source tables against the contract: every violation at once, named by table, row and column."""
