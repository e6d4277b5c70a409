"""The prompt optimizer's adapters: engines, datasets, reports, run storage."""
