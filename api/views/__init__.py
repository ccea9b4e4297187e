"""Endpoints, one module per resource. Each checks the key's scope, finds the
object through the policy's visibility rule (404 when hidden) and calls the
same service the inbox and the admin call."""
