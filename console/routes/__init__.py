"""The console's route modules: thin — parse the request, call a query or a model, render a page."""
