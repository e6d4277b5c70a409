"""`python -m services.registry`: the registry on its port (shared.ports: 8000, CHALLENGER_REGISTRY_PORT or PORT)."""

from services.registry.bootstrap import NAME
from services.registry.entrypoints.http import create_app
from shared.kit.serve import serve

if __name__ == "__main__":
    serve(create_app(), NAME)
