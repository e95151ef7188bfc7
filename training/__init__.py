"""Training: labelled snapshots, splits, fitting, evaluation and the model registry (docs/architecture.md)."""
