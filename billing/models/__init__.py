from billing.models.batches import (
    Acknowledgement,
    Batch,
    BatchStatusChange,
    ControlNumberCounter,
    PlanChannel,
    UnreadFile,
)
from billing.models.claims import Claim, ClaimLine, ClaimStatusChange
from billing.models.remittances import Adjustment, Payment, ProviderAdjustment, Remittance, RemittanceClaim

__all__ = [
    "Acknowledgement",
    "Adjustment",
    "Batch",
    "BatchStatusChange",
    "Claim",
    "ClaimLine",
    "ClaimStatusChange",
    "ControlNumberCounter",
    "Payment",
    "PlanChannel",
    "ProviderAdjustment",
    "Remittance",
    "RemittanceClaim",
    "UnreadFile",
]
