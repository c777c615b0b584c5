"""Every HTTP surface of PayLine; each blueprint parses, calls one function, renders."""
