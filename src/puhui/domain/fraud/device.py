"""Device data captured by the portal or a partner's app (R-9.6(a) identity anti-fraud).

A :class:`DeviceInfo` is what the channel reports about the device an application comes from:
its installation id, platform, OS version, model, network address and two risk flags
(emulator, rooted / jailbroken). Everything is checked field by field; unknown fields are
refused by name, so a channel that sends something else learns it at once. The device id and
the IP address are never stored in clear: the fraud services keep their blind indexes only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from puhui.domain.errors import ValidationError

__all__ = ["DeviceInfo", "Platform"]

_DEVICE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
_SHORT: Final = re.compile(r"[\w .()/+-]{1,64}")
_REQUIRED: Final = ("device_id", "platform", "os_version", "model", "ip")
_OPTIONAL: Final = ("user_agent", "emulator", "rooted")


class Platform(StrEnum):
    ANDROID = "android"
    IOS = "ios"
    HARMONY = "harmony"
    WEB = "web"


def _bad(field: str, message: str) -> ValidationError:
    return ValidationError(
        f"device.{field}: {message}", code="fraud.device.invalid", details={"field": field}
    )


def _text(data: Mapping[str, Any], field: str, pattern: re.Pattern[str], what: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
        raise _bad(field, what)
    return value.strip()


def _flag(data: Mapping[str, Any], field: str) -> bool:
    value = data.get(field, False)
    if not isinstance(value, bool):
        raise _bad(field, "true or false")
    return value


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: str
    platform: Platform
    os_version: str
    model: str
    ip: str  # normalized text of an IPv4 or IPv6 address
    user_agent: str = ""
    emulator: bool = False
    rooted: bool = False

    @classmethod
    def from_mapping(cls, data: object) -> DeviceInfo:
        """Read the channel's JSON object; any missing, unknown or malformed field is refused
        with ``fraud.device.invalid`` naming it."""
        if not isinstance(data, Mapping):
            raise _bad("device", "an object is required")
        unknown = sorted(str(k) for k in set(data) - set(_REQUIRED) - set(_OPTIONAL))
        if unknown:
            raise ValidationError(
                f"unknown device field(s): {', '.join(unknown)}",
                code="fraud.device.invalid",
                details={"field": unknown[0], "fields": unknown},
            )
        missing = [f for f in _REQUIRED if data.get(f) in (None, "")]
        if missing:
            raise _bad(missing[0], "required")
        try:
            platform = Platform(str(data["platform"]))
        except ValueError:
            raise _bad("platform", f"one of {[p.value for p in Platform]}") from None
        try:
            ip = str(ipaddress.ip_address(str(data["ip"]).strip()))
        except ValueError:
            raise _bad("ip", "an IPv4 or IPv6 address") from None
        agent = data.get("user_agent", "")
        if not isinstance(agent, str) or len(agent) > 512 or any(ord(c) < 32 for c in agent):
            raise _bad("user_agent", "one line of at most 512 characters")
        return cls(
            device_id=_text(data, "device_id", _DEVICE_ID, "8-128 letters, digits, . _ : -"),
            platform=platform,
            os_version=_text(data, "os_version", _SHORT, "at most 64 plain characters"),
            model=_text(data, "model", _SHORT, "at most 64 plain characters"),
            ip=ip,
            user_agent=agent,
            emulator=_flag(data, "emulator"),
            rooted=_flag(data, "rooted"),
        )

    @property
    def network(self) -> str:
        """The /24 (IPv4) or /64 (IPv6) the address belongs to: what a shared NAT has in
        common."""
        prefix = 24 if ":" not in self.ip else 64
        return str(ipaddress.ip_network(f"{self.ip}/{prefix}", strict=False))
