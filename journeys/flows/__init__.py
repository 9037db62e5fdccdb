"""Chatbot flows: models, the checks of a flow, and the services that run it."""
