from billing.models.batches import (
    Acknowledgement,
    Batch,
    BatchStatusChange,
    ControlNumberCounter,
    PlanChannel,
    UnreadFile,
)
from billing.models.builds import ClaimBuild
from billing.models.claims import Claim, ClaimLine, ClaimStatusChange
from billing.models.remittances import Adjustment, Payment, ProviderAdjustment, Remittance, RemittanceClaim

__all__ = [
    "Acknowledgement",
    "Adjustment",
    "Batch",
    "BatchStatusChange",
    "Claim",
    "ClaimBuild",
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
