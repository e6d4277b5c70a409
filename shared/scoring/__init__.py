"""Scoring shared by the evaluator, the prompt optimizer and the config search: deterministic
metrics, the LLM-as-judge, and how a task item becomes a model request."""
