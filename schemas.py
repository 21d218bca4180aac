"""Input and output shapes (Create/Update/Public) kept apart from the tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)

from models import MessageRole, RegistrantStatus

# Text is taken as sent (no silent trimming, so the schema's lengths hold), never with
# NUL (PostgreSQL refuses it in text), and names need a visible character.
NO_NUL = r"^[^\x00]*$"
VISIBLE = r"^[^\x00]*[^\x00\s][^\x00]*$"
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=VISIBLE)]
Text = Annotated[str, StringConstraints(max_length=10_000, pattern=NO_NUL)]
MAX_PRICE = 99_999_999.99  # NUMERIC(10, 2)
# Money in: a number or a decimal string with at most 2 places; out: a string ("12.50").
PRICE_INPUT_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": MAX_PRICE, "multipleOf": 0.01},
        {"type": "string", "pattern": r"^[0-9]{1,8}(\.[0-9]{1,2})?$"},
    ]
}
Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=10, decimal_places=2),
    WithJsonSchema(PRICE_INPUT_SCHEMA, mode="validation"),
]
# Special-use domains (x@host.test, x@foo.local) are refused: say so in the schema.
EMAIL_SCHEMA_PATTERN = r"(?i)^(?!.*@(?:[^@]*\.)?(?:arpa|invalid|local|localhost|onion|test)\.?$)"
Category = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=VISIBLE)]


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Text = ""
    price: Price
    category: Category
    in_stock: StrictBool = True


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Text | None = None
    price: Price | None = None
    category: Category | None = None
    in_stock: StrictBool | None = None


class ProductPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    price: Decimal
    category: str
    in_stock: bool
    created_at: datetime
    updated_at: datetime


class ProductStats(BaseModel):
    count: int
    average_price: Decimal | None
    in_stock_share: float


class CategoryStats(BaseModel):
    category: str
    count: int
    average_price: Decimal


class RegistrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: EmailStr = Field(json_schema_extra={"pattern": EMAIL_SCHEMA_PATTERN})
    company: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] = ""


class RegistrantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: RegistrantStatus | None = None
    notes: Text | None = None


class RegistrantPublic(BaseModel):
    """What anyone may see of a registration: no email, no notes."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    webinar_id: int
    name: str
    company: str
    status: RegistrantStatus
    registered_at: datetime


class RegistrantStaff(RegistrantPublic):
    """What staff with `webinarregistrant.view` see."""

    email: str
    notes: str
    photo: str | None
    updated_at: datetime


class WebinarSummary(BaseModel):
    """A webinar with how many people registered (one grouped query for a page)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    starts_at: datetime
    duration_minutes: int
    host: str
    registrant_count: int = 0


# -- chat ---------------------------------------------------------------------------------

ChatText = Annotated[str, StringConstraints(min_length=1, max_length=8000, pattern=VISIBLE)]


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Name | None = None


class ConversationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    created_at: datetime
    updated_at: datetime


class ChatSource(BaseModel):
    """A catalogue product retrieved for an answer; `cited` when the answer links it."""

    id: int
    name: str
    url: str
    cited: bool


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: ChatText


class MessagePublic(BaseModel):
    """`complete` is false for an answer that was stopped or failed (`error` says why)."""

    id: int
    role: MessageRole
    content: str
    html: str
    complete: bool
    error: str
    sources: list[ChatSource]
    created_at: datetime


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]
