from services.monitor.bootstrap import NAME
from services.monitor.entrypoints.http import create_app
from shared.kit.serve import serve

if __name__ == "__main__":
    serve(create_app(), NAME)
