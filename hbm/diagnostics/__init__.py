"""Is the sampler's output trustworthy? Convergence statistics, the funnel triage, the verdict."""
