"""Builds the app's collaborators from its config: per-request stores, the processor, services."""

from __future__ import annotations

from flask import Flask, g

from connector.ledger import LeaseRenewer, LedgerSettings
from connector.processors import Processor
from connector.processors.registry import StoreBound
from connector.processors.registry import build as build_processor
from connector.service import ConnectorService
from storage import Store


class PayLine:
    """Registered as app.extensions["payline"]; the only place that knows how parts connect."""

    def __init__(self, app: Flask):
        self.config = app.config
        self._processor: StoreBound | None = None
        self._configure_pool()
        self.leases = LeaseRenewer(self.open_store)  # one renewal thread per process
        app.extensions["payline"] = self
        app.teardown_appcontext(self._close_store)

    def _configure_pool(self) -> None:
        """PostgreSQL: one pool per worker process, opened on its first request (never in a
        gunicorn master before the fork). Its maximum defaults to the worker's threads + 2:
        each thread holds one connection for its request (a retry waiting for its in-flight
        twin polls the ledger), plus the lease renewer and a health check."""
        url = self.config["DATABASE_URL"]
        if not url.startswith("postgresql:"):
            return
        from storage.postgres import PoolSettings, configure_pool

        configure_pool(
            url,
            PoolSettings(
                min_size=self.config["DATABASE_POOL_MIN"],
                max_size=self.config["DATABASE_POOL_MAX"],
                timeout_seconds=self.config["DATABASE_POOL_TIMEOUT"],
            ),
        )

    def open_store(self) -> Store:
        """A new connection, owned by the caller (threads other than the request's)."""
        return Store(self.config["DATABASE_URL"])

    def store(self) -> Store:
        """The request's connection, closed at teardown."""
        if "store" not in g:
            g.store = self.open_store()
        return g.store

    def _close_store(self, _exc: BaseException | None) -> None:
        store = g.pop("store", None)
        if store is not None:
            store.close()

    def processor(self, store: Store) -> Processor:
        """The processor PROCESSOR names, from the registry (connector/processors/): built
        once per app, so that a gateway's connection pool (and TLS sessions) outlive a
        request, then bound to the request's store (the sandbox books in it)."""
        if self._processor is None:
            self._processor = build_processor(self.config["PROCESSOR"], self.config)
        return self._processor(store)

    def connector_service(self) -> ConnectorService:
        store = self.store()
        return ConnectorService(
            mode=self.config["CONNECTOR_MODE"],
            secret=self.config["SECRET_KEY"],
            processor=self.processor(store),
            store=store,
            open_store=self.open_store,
            leases=self.leases,
            processor_retry_seconds=self.config["PROCESSOR_RETRY_SECONDS"],
            ledger=LedgerSettings(
                wait_seconds=self.config["IDEMPOTENCY_WAIT_SECONDS"],
                lease_seconds=self.config["IDEMPOTENCY_LEASE_SECONDS"],
            ),
        )
