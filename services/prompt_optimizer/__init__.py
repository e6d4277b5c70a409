"""The prompt_optimizer service."""
