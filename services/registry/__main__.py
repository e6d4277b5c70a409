"""`python -m services.registry`: the registry on port 8000 (CHALLENGER_REGISTRY_PORT overrides)."""

from services.registry.app import create_app, port
from shared.runtime import serve

if __name__ == "__main__":
    serve(create_app(), port())
