"""The composition root: builds the adapters, every service and the background loop from one `Settings`.

Only this package wires things together; `services/` never imports an interface, and
interfaces receive the built `Services` instead of constructing their own.
"""
