"""The embedded stack (`challenger up`): every part as its own process, state and logs under
CHALLENGER_HOME. A product feature of the CLI, kept out of `shared/` so no service imports it."""
