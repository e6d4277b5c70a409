from services.monitor.app import create_app
from shared.runtime import serve

PORT = 8105

if __name__ == "__main__":
    serve(create_app(), PORT)
