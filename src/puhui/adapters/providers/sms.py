"""SMS delivery. ``SandboxSmsProvider`` is the **sandbox**: it sends nothing and appends each
message as one JSON line to a log file, which the demo and the tests read as "the phone".

A bank connects its real SMS gateway by implementing ``puhui.services.ports.SmsSender`` (one
``send`` method) and constructing it in ``puhui.bootstrap.build_platform``.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path


class SandboxSmsProvider:
    name = "sandbox"

    def __init__(self, log_path: str | Path) -> None:
        self.path = Path(log_path)
        self._lock = threading.Lock()

    def send(self, phone: str, text: str, *, purpose: str) -> str:
        message_id = f"sandbox-{uuid.uuid4().hex[:16]}"
        line = json.dumps(
            {
                "provider": "SANDBOX (no message was sent)",
                "message_id": message_id,
                "to": phone,
                "purpose": purpose,
                "text": text,
                "sent_at": datetime.now(UTC).isoformat(),
            },
            ensure_ascii=False,
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        return message_id

    def messages_to(self, phone: str) -> list[dict[str, str]]:
        """Read back what was "sent" to a number (sandbox only; for demos and tests)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            msg = json.loads(line)
            if msg["to"] == phone:
                out.append(msg)
        return out

    def last_code(self, phone: str) -> str | None:
        import re

        for msg in reversed(self.messages_to(phone)):
            found = re.search(r"(\d{6})", msg["text"])
            if found:
                return found.group(1)
        return None
