"""What a fit says: shrinkage and league tables, pooling, predictive checks, predictions."""
