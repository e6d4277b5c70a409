"""The embedded stack: every part as its own process, state and logs under CHALLENGER_HOME."""
