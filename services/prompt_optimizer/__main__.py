"""`python -m services.prompt_optimizer`: the prompt optimizer on port 8103."""

from services.prompt_optimizer.app import PORT, build_app
from shared.runtime import serve

if __name__ == "__main__":
    serve(build_app(), PORT)
