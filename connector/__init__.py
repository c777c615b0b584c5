"""The Generic Pay Connector's domain: parse, validate, decide, answer. Knows nothing of Flask."""
