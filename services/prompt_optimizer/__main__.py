"""`python -m services.prompt_optimizer`: the prompt optimizer on its port (shared.ports)."""

from services.prompt_optimizer.bootstrap import NAME
from services.prompt_optimizer.entrypoints.http import create_app
from shared.kit.serve import serve

if __name__ == "__main__":
    serve(create_app(), NAME)
