"""Training: labelled snapshots, splits, fitting, evaluation and the model registry (ARCHITECTURE.md)."""
