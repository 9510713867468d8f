"""The service under test: FastAPI with an AsyncConnectionPool, run by Gunicorn + Uvicorn workers.

Gunicorn imports ``drills.app.main:app`` in each worker; the harness never imports this package.
It gets every knob from environment variables, parsed in one place (``settings.py``).
"""
