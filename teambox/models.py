"""Channels, conversations, messages and agents (see the messaging issue)."""
