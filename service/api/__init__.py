"""The REST API (FastAPI): ``create_app`` in app.py."""
