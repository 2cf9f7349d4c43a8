"""Risks, margin risks, losses, proxies (Sec. 4, eq. 25) and the optimistic bound (eq. 41)."""
