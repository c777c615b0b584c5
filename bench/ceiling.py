"""The ceilings PayLine is measured against, served by the same gunicorn settings.

- `POST /echo`: a bare Flask JSON echo, the ceiling of this stack (gunicorn, Flask, JSON);
- `POST /insert`: a bare endpoint doing one durable insert through PayLine's own connection
  layer (`storage.db.connect`: a SQLite connection per request, or a pooled PostgreSQL one),
  with the same durability settings as PayLine: the storage ceiling.

    DATABASE_URL=… gunicorn bench.ceiling:app   (bench.stack creates its table first)
"""

from __future__ import annotations

import os
import uuid

from flask import Flask, jsonify, request

from storage.db import connect

DATABASE_URL = os.environ["DATABASE_URL"]

app = Flask(__name__)


@app.post("/echo")
def echo():
    return jsonify(request.get_json(force=True))


@app.post("/insert")
def insert():
    body = request.get_json(force=True)
    connection = connect(DATABASE_URL)
    try:
        connection.execute(
            "insert into bench_inserts (id, payload, created_at) values (:id, :payload, :at)",
            {"id": uuid.uuid4().hex, "payload": str(body.get("transaction_id")), "at": "now"},
        )
    finally:
        connection.close()
    return jsonify({"ok": True})
