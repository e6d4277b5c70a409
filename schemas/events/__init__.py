"""Every event and command payload, one module per topic. Message structs only."""
