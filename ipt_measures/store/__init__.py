"""The record store: clients, courses, sessions, administrations, responses, scores and the audit trail."""
