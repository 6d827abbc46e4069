from contracts.models.catalog import (
    ServiceCatalogEntry,
    UnknownService,
    modifier_key,
    normalize_modifiers,
)
from contracts.models.contracts import (
    CAP_FIELDS,
    IN_FORCE_STATUSES,
    TERM_FIELDS,
    Contract,
    ContractAmendment,
    ContractStatusChange,
    RateLine,
    RateLineVersion,
)

__all__ = [
    "CAP_FIELDS",
    "IN_FORCE_STATUSES",
    "TERM_FIELDS",
    "Contract",
    "ContractAmendment",
    "ContractStatusChange",
    "RateLine",
    "RateLineVersion",
    "ServiceCatalogEntry",
    "UnknownService",
    "modifier_key",
    "normalize_modifiers",
]
