"""`type: ldap` — log in against an LDAP directory (OpenLDAP, 389-ds, Active Directory). See docs/ldap.md."""

from dexpy.connectors.base import register
from dexpy.connectors.ldap.config import LDAPConfig, parse_config
from dexpy.connectors.ldap.connector import LDAPConnector
from dexpy.connectors.ldap.transport import ServiceBindFailed, TLSVerificationFailed

__all__ = ["LDAPConfig", "LDAPConnector", "ServiceBindFailed", "TLSVerificationFailed"]

register("ldap", LDAPConnector.from_mapping, parse_config)
