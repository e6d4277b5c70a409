"""Challenger as a library: `challenger.client` talks to a running registry (sync or async);
`challenger.stack` starts the embedded stack on one machine (`challenger up`)."""
