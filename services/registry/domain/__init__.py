"""The registry's pure rules: no I/O imports here."""
