"""The deployer's adapters: its database tables and the policy file."""
