"""The web console for agents, quality staff, supervisors and admins (FastAPI, Jinja2 + htmx, SSE).

``console.app.create_app()`` builds the app; ``followup console`` serves it; ``followup users create``
makes accounts. See docs/console.md for the routes, roles and security measures.
"""
