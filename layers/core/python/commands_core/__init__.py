"""Core of the IoT Commands Service, shipped to every function as the core Lambda layer.

Imports go one way: `api` (events and HTTP) -> `services` (domain rules) -> `adapters` (AWS).
"""
