"""The deployer service."""
