"""The handover: the business register, readiness, customer notices and registrar requests.

A pure core: it knows customers, domains, hosting and registrars, the transfer rules and
what each party must be sent; time comes in as an argument. Persistence, mail and pages
belong to ``baton``.
"""

from handover.errors import HandoverError, ImportRejected, RowError
from handover.names import DomainName, domain_name

__all__ = ["DomainName", "HandoverError", "ImportRejected", "RowError", "domain_name"]
