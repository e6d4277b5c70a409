"""The deployer's pure domain: policy, pipeline driver, canary analysis, route tables. No I/O."""
