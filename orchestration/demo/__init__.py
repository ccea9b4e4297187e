"""The demo: handlers, definitions and seed data. Not product code.

Enabled by ORCHESTRATION_HANDLER_MODULES=orchestration.demo.handlers (the local
and test settings set it); production lists its own handler modules instead.
"""
