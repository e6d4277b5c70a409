"""The registry's adapters: the database and its migrations."""
