"""Smart replies: keyword and phrase rules that answer a contact's message."""
