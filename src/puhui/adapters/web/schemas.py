"""Request and response bodies of the JSON API. Unknown fields are refused, types are strict."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginIn(Strict):
    username: StrictStr = Field(max_length=40)
    password: StrictStr = Field(max_length=200)


class SessionOut(BaseModel):
    token: str
    csrf_token: str
    username: str
    roles: list[str]
    permissions: list[str]


class MeOut(BaseModel):
    kind: str
    id: str
    display: str
    permissions: list[str]


class StaffUserIn(Strict):
    username: StrictStr = Field(max_length=40)
    display_name: StrictStr = Field(max_length=80)
    password: StrictStr = Field(max_length=200)
    roles: list[StrictStr] = Field(min_length=1, max_length=6)
    post: StrictStr = Field(default="", max_length=80)
    branch: StrictStr = Field(default="", max_length=40)


class StaffUserOut(BaseModel):
    id: int | None
    username: str
    display_name: str
    roles: list[str]
    post: str
    branch: str
    active: bool
    locked: bool = False


class CreatedStaffUserOut(BaseModel):
    status: str  # "created" | "pending_approval"
    user: StaffUserOut | None = None
    pending_action_id: int | None = None


class PendingActionOut(BaseModel):
    id: int | None
    action: str
    maker: str
    status: str
    checker: str | None
    summary: dict[str, object]


class DecisionIn(Strict):
    reason: StrictStr = Field(default="", max_length=400)


class ApiKeyIn(Strict):
    partner: StrictStr = Field(max_length=80)
    scopes: list[StrictStr] = Field(min_length=1, max_length=10)


class ApiKeyOut(BaseModel):
    id: int | None
    partner: str
    prefix: str
    scopes: list[str]
    secret: str | None = None


class BusinessDateIn(Strict):
    business_date: date = Field(strict=False)
    allow_backwards: StrictBool = False


class BusinessDateOut(BaseModel):
    business_date: date


class PhoneIn(Strict):
    phone: StrictStr = Field(max_length=24)


class CustomerLoginIn(Strict):
    phone: StrictStr = Field(max_length=24)
    code: StrictStr = Field(min_length=4, max_length=8)


class CustomerSessionOut(BaseModel):
    token: str
    customer_id: int
    new_customer: bool


class IdentityIn(Strict):
    name: StrictStr = Field(max_length=40)
    id_number: StrictStr = Field(max_length=24)


class CustomerOut(BaseModel):
    id: int
    phone: str
    name: str | None
    id_number: str | None
    verified: bool
    created_on: str
    masked: bool


class IdentifierIn(Strict):
    kind: StrictStr = Field(pattern="^(id_number|uscc|mobile|bank_card)$")
    value: StrictStr = Field(max_length=40)


class AuditRecordOut(BaseModel):
    seq: int
    occurred_at: str
    actor: str
    action: str
    target: str
    result: str
    request_id: str | None
    record_hash: str


class ChainVerdictOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None
    message: str
