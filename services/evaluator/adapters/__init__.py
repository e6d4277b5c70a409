"""The evaluator's I/O: report files, datasets from blobs, engine calls."""
