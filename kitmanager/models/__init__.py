"""Typed SQLAlchemy 2.0 models, one module per domain, every public name re-exported here.

Times are stored in UTC (naive ``DateTime`` columns hold UTC) and shown in the workshop's time
zone. Every token a QR carries is random and unique, never an id or a name.
``from kitmanager.models import X`` is the way in; the modules are where each model lives.
"""

from __future__ import annotations

from kitmanager.models.accounts import (
    ApiToken,
    LoginSession,
    LoginThrottle,
    OneTimeLogin,
    Role,
    User,
)
from kitmanager.models.audit import AuditEvent
from kitmanager.models.base import EnumString, LabelledEnum, new_token, utcnow
from kitmanager.models.boards import (
    BoardPort,
    BoardRun,
    BoardRunKind,
    BoardRunStatus,
    Firmware,
    KitTypeFirmware,
)
from kitmanager.models.certificates import Certificate, CertificateOverride, CertificateRule
from kitmanager.models.checkin import (
    CheckIn,
    CheckInSource,
    ScanRequest,
    StationScan,
    StationScanKind,
)
from kitmanager.models.kits import (
    Kit,
    KitComponent,
    KitCondition,
    KitHandout,
    KitIncident,
    KitIncidentItem,
    KitStatus,
    KitType,
)
from kitmanager.models.participants import Participant, ParticipantRole, RetiredBadgeToken
from kitmanager.models.settings import AppSetting
from kitmanager.models.workshops import Team, Workshop, WorkshopSession

__all__ = [
    "ApiToken",
    "AppSetting",
    "AuditEvent",
    "BoardPort",
    "BoardRun",
    "BoardRunKind",
    "BoardRunStatus",
    "Certificate",
    "CertificateOverride",
    "CertificateRule",
    "CheckIn",
    "CheckInSource",
    "EnumString",
    "Firmware",
    "Kit",
    "KitComponent",
    "KitCondition",
    "KitHandout",
    "KitIncident",
    "KitIncidentItem",
    "KitStatus",
    "KitType",
    "KitTypeFirmware",
    "LabelledEnum",
    "LoginSession",
    "LoginThrottle",
    "OneTimeLogin",
    "Participant",
    "ParticipantRole",
    "RetiredBadgeToken",
    "Role",
    "ScanRequest",
    "StationScan",
    "StationScanKind",
    "Team",
    "User",
    "Workshop",
    "WorkshopSession",
    "new_token",
    "utcnow",
]
