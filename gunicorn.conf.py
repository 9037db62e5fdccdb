"""gunicorn's settings for Picky. gunicorn reads this file from the working directory,
so the Procfile, the README's commands, the benchmarks and the drills all run with it;
--workers (or WEB_CONCURRENCY) and --bind come from the command line."""

import os

# Threads serve only requests that have fully arrived; slow clients wait on the worker's
# poller, up to PICKY_REQUEST_READ_SECONDS (picky/gunicorn_worker.py).
worker_class = "picky.gunicorn_worker.BufferedThreadWorker"
# Each thread keeps a database connection: workers x threads in all (32 by default).
threads = int(os.environ.get("WEB_THREADS", "8"))
# Connections a worker holds at once, slow, kept alive or being served; each being read
# holds its bytes so far (PICKY_MAX_PAYLOAD_BYTES at most).
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "200"))
# gunicorn's control socket sits at one path per user (~/.gunicorn/gunicorn.ctl), which
# every gunicorn on the machine would share; Picky does not use gunicornc.
control_socket_disable = True
