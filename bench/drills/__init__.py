"""Fault drills (`make drills`): real processes are killed and restarted while
webhooks arrive; every accepted event must run exactly once. See scenarios.py."""
