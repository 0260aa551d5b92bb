"""Inbound 办件 adapters: REST/JSON, SOAP 1.1, 前置库 exchange table, file drop.

Each channel authenticates its source, admits it only if the registry does (registered,
active, channel allowed — ``gateway.clients.registry.admit``), turns its input into raw
items, and hands them to ``ingest.accept_call``, which rejects items of orgs the source does
not report for and publishes the canonical event ``hub.case.event.received`` (topic
``hub.cases``, key = 办件编号) through the outbox.
"""
