"""gunicorn settings, read automatically from the working directory (`gunicorn app:app`).

Why threads: a connector retry that arrives while the original charge is in flight waits for
it (up to IDEMPOTENCY_WAIT_SECONDS, well past Twilio's 10 s) instead of answering "in
progress". With sync workers each waiting retry would pin a whole worker and a storm of
retries would starve every other call; with `gthread` a waiting retry holds one thread, which
mostly sleeps between database polls. The platform still chooses the bind address and the
number of workers (PORT, WEB_CONCURRENCY, GUNICORN_CMD_ARGS), as Heroku-style hosts expect.

Card data: the access log masks the request line, path and query through pci (decoded first,
so that %34%31… cannot hide digits), every log record of master and workers is masked, and the
error page gunicorn writes for a malformed request never repeats it.

Slow clients: a thread reads a request's headers; clients that trickle them can hold every
thread. PayLine must sit behind a buffering proxy (the Heroku-style router, or nginx with
deploy/nginx/payline.conf) that hands on only complete requests. HEALTH_PORT, when set, gives
each worker a listener of its own for GET /healthz that no request thread can starve.
"""

import os
import socket
import threading

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

import pci

pci.install_log_masking()

bind = f"0.0.0.0:{os.environ['PORT']}" if os.environ.get("PORT") else "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# A request may legitimately wait ~60 s for a slow processor or an in-flight twin; gthread
# workers keep heart-beating while their threads wait, so this only kills a truly stuck worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "90"))
graceful_timeout = 30
keepalive = 5
# Twilio's request lines (signed callback URLs) are a few hundred bytes and its headers few and
# short: anything much larger is not Twilio, and is refused before a thread parses it.
limit_request_line = 2048
limit_request_fields = 64
limit_request_field_size = 8190
accesslog = "-"
# No request bodies in the access log, only the request line (masked): card data travels in
# bodies.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


# --- Start-up check (issue 9): settings are checked in the master, before any worker forks. ---
# Without it a missing secret made every worker crash at boot while the master kept its port
# bound and re-forked them (50-116 boots in 12 s), so a platform could count the app as up.
def on_starting(server):
    """A configuration error exits the whole server, non-zero, with its message."""
    from startup import check_or_exit

    check_or_exit()


class MaskingLogger(Logger):
    """gunicorn's logger, with every access-log atom made safe by pci."""

    def atoms(self, resp, req, environ, request_time):  # noqa: ANN001, ANN201
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if isinstance(value, str) and value not in ("-", ""):
                atoms[key] = pci.mask_url(value) if key in ("r", "U", "q") else pci.mask_text(value)
        return atoms


class MaskingThreadWorker(ThreadWorker):
    """gthread, except that the error page for a malformed request never quotes it."""

    def handle_error(self, req, client, addr, exc):  # noqa: ANN001, ANN201
        return super().handle_error(req, client, addr, _masked(exc))


def _masked(exc: BaseException) -> BaseException:
    text = pci.mask_url(str(exc))
    if text == str(exc):
        return exc

    class Masked(type(exc)):  # type: ignore[misc]  # isinstance checks still see gunicorn's class
        def __str__(self) -> str:
            return text

    masked = Masked.__new__(Masked)
    masked.__dict__.update(exc.__dict__)
    masked.args = (text,)
    return masked


logger_class = MaskingLogger
worker_class = MaskingThreadWorker


def post_worker_init(worker):  # noqa: ANN001, ANN201
    """With HEALTH_PORT set, serve GET /healthz on it from a thread of this worker's own."""
    port = os.environ.get("HEALTH_PORT")
    if port:
        host = os.environ.get("HEALTH_HOST", "127.0.0.1")
        threading.Thread(
            target=_serve_health, args=(worker.wsgi, host, int(port)), daemon=True
        ).start()


def _serve_health(app, host: str, port: int) -> None:  # noqa: ANN001
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Server(WSGIServer):
        allow_reuse_address = True

        def server_bind(self) -> None:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            super().server_bind()

    class Handler(WSGIRequestHandler):
        timeout = 2  # a client trickling bytes here is dropped, not waited for

        def log_message(self, format: str, *args) -> None:  # noqa: A002, ANN002
            pass

    def health_only(environ, start_response):  # noqa: ANN001, ANN202
        if environ.get("PATH_INFO") != "/healthz" or environ["REQUEST_METHOD"] != "GET":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only GET /healthz here\n"]
        return app(environ, start_response)

    with make_server(host, port, health_only, server_class=Server, handler_class=Handler) as s:
        s.serve_forever()
