from services.evaluator.app import PORT, create_app
from shared.runtime import serve

serve(create_app(), PORT)
