"""Defences against abuse, each in its own module (docs/security.md):

- `lockout`: brute-force protection for passwords and client secrets, counters shared through the store;
- `ratelimit`: per-client-IP token buckets on the endpoints that cost work;
- `limits`: request size limits;
- `clientip`: the client's address behind trusted proxies.
"""
