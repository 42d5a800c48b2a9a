"""What is fitted: the model description, parameters, priors, families, parametrizations, builders.

Imports run one way inside too: ``parameters`` and ``description`` → ``priors`` → ``families`` →
``standardize`` and ``parametrizations`` → ``build``.
"""
