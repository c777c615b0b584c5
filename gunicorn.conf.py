"""gunicorn settings, read automatically from the working directory (`gunicorn app:app`).

Why threads: a connector retry that arrives while the original charge is in flight waits for
it (up to IDEMPOTENCY_WAIT_SECONDS, well past Twilio's 10 s) instead of answering "in
progress". With sync workers each waiting retry would pin a whole worker and a storm of
retries would starve every other call; with `gthread` a waiting retry holds one thread, which
mostly sleeps between database polls. The platform still chooses the bind address and the
number of workers (PORT, WEB_CONCURRENCY, GUNICORN_CMD_ARGS), as Heroku-style hosts expect.
"""

import os

bind = f"0.0.0.0:{os.environ['PORT']}" if os.environ.get("PORT") else "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# A request may legitimately wait ~60 s for a slow processor or an in-flight twin; gthread
# workers keep heart-beating while their threads wait, so this only kills a truly stuck worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "90"))
graceful_timeout = 30
keepalive = 5
accesslog = "-"
# No request bodies in the access log, only the request line: card data travels in bodies.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


# --- Start-up check (issue 9): settings are checked in the master, before any worker forks. ---
# Without it a missing secret made every worker crash at boot while the master kept its port
# bound and re-forked them (50-116 boots in 12 s), so a platform could count the app as up.
def on_starting(server):
    """A configuration error exits the whole server, non-zero, with its message."""
    from startup import check_or_exit

    check_or_exit()
