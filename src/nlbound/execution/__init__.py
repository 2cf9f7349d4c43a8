"""Executing runs: the cached runner, its backends (local processes, Ray), the leases and lifelines of a shared cache."""
