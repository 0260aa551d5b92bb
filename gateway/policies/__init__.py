"""Front-door policies of the gateway (前门策略): rate limits, credential-guessing guard,
circuit breakers, ``Idempotency-Key``, CORS and security headers.

Pure rules live in plain modules (:mod:`rules`, :mod:`breaker`); counters and stored answers
in stores (:mod:`counters`, :mod:`idempotency`); :mod:`middleware` wires them as ASGI layers
so bodies keep streaming.
"""
