import gc

from services.evaluator.bootstrap import NAME
from services.evaluator.entrypoints.http import create_app
from shared.kit.serve import serve

app = create_app()
# Everything is imported now (~150k objects: matplotlib, scipy, pydantic models). Frozen, they
# leave the full collections, which otherwise scanned them all: ~100 ms pauses of the event
# loop, in about one evaluation of 1,000 items in three (measured with benchmarks.eval); ~15 ms after.
gc.collect()
gc.freeze()
serve(app, NAME)
