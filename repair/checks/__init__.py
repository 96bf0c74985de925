"""The checks: one module per family, each check a plain function of the context -> findings."""
