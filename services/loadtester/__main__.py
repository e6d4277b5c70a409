"""`python -m services.loadtester`: the load tester on port 8102."""

from services.loadtester.app import PORT, build_app
from shared.runtime import serve

if __name__ == "__main__":
    serve(build_app(), PORT)
