"""The monitor's use cases: `monitor` (inference and feedback in, windows analysed, alarms
out), `labelling` (a labelling job's model work) and `samples` (captured samples loaded,
augmented, exported: the CLI and the augmentation request call them)."""
