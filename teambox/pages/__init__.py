"""The agents' pages under /teambox/<project slug>/: the inbox, a conversation with its
timeline, reply box and contact panel, notifications, presence and live updates, and CRM
records with their macro buttons' forms (records.py).

Every page goes through access.py (who sees which conversation) and layout.py (the
shared frame); views stay thin and call the teambox and crm services."""
