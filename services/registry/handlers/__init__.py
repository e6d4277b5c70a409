"""Use cases of the registry. Each takes the session first and keyword arguments; none commits:
the entrypoint (route or consumer) commits once, so state and outbox rows land together."""
