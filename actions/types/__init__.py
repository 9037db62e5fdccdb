"""One module per action category; importing them registers the types."""
