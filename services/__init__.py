"""One package per service. A service imports `shared` and `schemas`, never another service."""
