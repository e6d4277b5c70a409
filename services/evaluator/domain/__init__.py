"""The evaluator's pure core: no I/O imports here."""
