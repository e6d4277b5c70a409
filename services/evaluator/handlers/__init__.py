"""Use cases of the evaluator: `requested` answers the bus's evaluation.requested, `evaluation`
runs one evaluation (the service and `challenger eval` both call it), `labelling` makes silver
datasets with a teacher model."""
