"""Receivers of the signals crm and teambox send to start automation."""
