"""Readers, vocabularies and batching. Bad input is reported as `DataFormatError`."""
