"""Pseudonymisation at ingestion: keyed HMAC pseudonyms for ID numbers, names dropped."""
