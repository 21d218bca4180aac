"""Input and output shapes (Create/Update/Public) kept apart from the tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from models import RegistrantStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Price = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = Field(default="", max_length=10_000)
    price: Price
    category: Category
    in_stock: bool = True


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: str | None = Field(default=None, max_length=10_000)
    price: Price | None = None
    category: Category | None = None
    in_stock: bool | None = None


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


class RegistrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: EmailStr
    company: str = Field(default="", max_length=200)


class RegistrantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: RegistrantStatus | None = None
    notes: str | None = Field(default=None, max_length=10_000)


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
