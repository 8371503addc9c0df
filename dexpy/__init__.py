"""dexpy: an OpenID Connect identity provider whose state lives in Kubernetes custom resources."""

__version__ = "0.1.0"
