"""`python -m services.loadtester`: the load tester on its port (shared.ports)."""

from services.loadtester.bootstrap import NAME
from services.loadtester.entrypoints.http import create_app
from shared.kit.serve import serve

if __name__ == "__main__":
    serve(create_app(), NAME)
