"""Deterministic demo rows for `manage.py seed`.

Row n is always the same (its own `random.Random(n)`), so a second run can tell
which rows exist by their natural keys (product name, webinar title, email).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from models import Product, RegistrantStatus, Webinar, WebinarRegistrant

# Documented in the README, refused in production, never printed.
DEMO_PASSWORD = "fastmango-demo-password"  # noqa: S105

ADJECTIVES = (
    "Classic", "Compact", "Deluxe", "Eco", "Essential", "Everyday", "Handmade", "Heavy-Duty",
    "Lightweight", "Modern", "Nordic", "Organic", "Portable", "Premium", "Quiet", "Rugged",
    "Smart", "Sturdy", "Vintage", "Wireless",
)  # fmt: skip

# category -> (nouns, what it is good for, (lowest price, highest price))
CATALOGUE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[int, int]]] = {
    "Books": (
        ("Cookbook", "Novel", "Field Guide", "Atlas", "Notebook", "Sketchbook"),
        ("for long evenings", "for curious minds", "to keep on the shelf"),
        (8, 45),
    ),
    "Electronics": (
        ("Headphones", "Speaker", "Charger", "Keyboard", "Mouse", "Webcam", "Power Bank"),
        ("for the home office", "for travel", "for gaming sessions"),
        (15, 400),
    ),
    "Garden": (
        ("Watering Can", "Planter", "Pruner", "Hose", "Seed Kit", "Bird Feeder"),
        ("for balconies and backyards", "for weekend gardeners", "for raised beds"),
        (5, 120),
    ),
    "Home": (
        ("Lamp", "Blanket", "Cushion", "Vase", "Clock", "Mirror", "Rug"),
        ("for the living room", "for a calm bedroom", "for small flats"),
        (12, 250),
    ),
    "Kitchen": (
        ("Kettle", "Knife Set", "Frying Pan", "Teapot", "Cutting Board", "Blender"),
        ("for daily cooking", "for weekend baking", "for busy mornings"),
        (9, 300),
    ),
    "Outdoors": (
        ("Tent", "Backpack", "Water Bottle", "Headlamp", "Sleeping Bag", "Camp Stove"),
        ("for trail runs", "for mountain weekends", "for family camping"),
        (10, 450),
    ),
    "Sports": (
        ("Yoga Mat", "Dumbbell Set", "Jump Rope", "Tennis Racket", "Football", "Bike Helmet"),
        ("for home workouts", "for the club", "for training every day"),
        (7, 220),
    ),
    "Toys": (
        ("Puzzle", "Building Set", "Kite", "Board Game", "Plush Bear", "Train Set"),
        ("for rainy afternoons", "for ages 6 and up", "for the whole family"),
        (6, 90),
    ),
}
CATEGORIES = tuple(CATALOGUE)
FEATURES = (
    "Built to last and easy to clean.",
    "Ships in recyclable packaging.",
    "Two-year warranty included.",
    "A favourite of our customers.",
    "Designed in small batches.",
    "Tested by our own team.",
)


def _start(n: int) -> tuple[random.Random, str, str, str]:
    """Product n's random stream, category, adjective and noun (its name's parts)."""
    rng = random.Random(n)
    category = CATEGORIES[(n - 1) % len(CATEGORIES)]
    return rng, category, rng.choice(ADJECTIVES), rng.choice(CATALOGUE[category][0])


def product_name(n: int) -> str:
    """Demo product n's name, without building the row (cheap, for existence checks)."""
    _, _, adjective, noun = _start(n)
    return f"{adjective} {noun} {n}"


def product(n: int) -> Product:
    """Demo product number n (1-based): the same name, price and text on every run."""
    rng, category, adjective, noun = _start(n)
    _, uses, (low, high) = CATALOGUE[category]
    cents = rng.randint(low * 100, high * 100)
    # Shop prices end in .99, .49 or .00 more often than not.
    cents = cents // 100 * 100 + rng.choice((99, 99, 49, 0, cents % 100))
    return Product(
        name=f"{adjective} {noun} {n}",
        description=f"{adjective} {noun.lower()} {rng.choice(uses)}. {rng.choice(FEATURES)}",
        price=Decimal(cents).scaleb(-2),
        category=category,
        in_stock=rng.random() > 0.15,
    )


@dataclass(frozen=True)
class WebinarSpec:
    title: str
    description: str
    host: str
    days_ahead: int
    duration_minutes: int


WEBINARS = (
    WebinarSpec(
        "Getting started with fastmango",
        "From `manage.py startapp` to a deployed page in one hour.",
        "Ada Lovelace",
        7,
        60,
    ),
    WebinarSpec(
        "Async SQL without tears",
        "QuerySets, select_related and atomic() on SQLite and PostgreSQL.",
        "Grace Hopper",
        14,
        45,
    ),
    WebinarSpec(
        "Shipping FastAPI to production",
        "Settings, system checks, migrations and health probes for a calm launch.",
        "Margaret Hamilton",
        21,
        90,
    ),
)


def webinar(spec: WebinarSpec, today: datetime) -> Webinar:
    """The webinar `spec` describes, at 16:00 UTC `spec.days_ahead` days after today."""
    day = (today + timedelta(days=spec.days_ahead)).date()
    return Webinar(
        title=spec.title,
        description=spec.description,
        host=spec.host,
        starts_at=datetime.combine(day, time(16, 0), tzinfo=UTC),
        duration_minutes=spec.duration_minutes,
    )


FIRST_NAMES = (
    "Alice", "Bruno", "Chloe", "Diego", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Keiko", "Liam", "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara",
    "Umar", "Vera", "Wen", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Bianchi", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jansen", "Kowalski", "Lopez", "Muller", "Nakamura", "Okafor", "Petrov", "Rossi", "Silva",
    "Tanaka", "Weber",
)  # fmt: skip
COMPANIES = (
    ("Acme Corp", "acme.example"), ("Blue Harbor", "blueharbor.example"),
    ("Cedar Labs", "cedarlabs.example"), ("Delta Foods", "deltafoods.example"),
    ("Evergreen Bank", "evergreen.example"), ("Fjord Logistics", "fjord.example"),
    ("Granite Health", "granite.example"), ("Helios Energy", "helios.example"),
    ("Indigo Studio", "indigo.example"), ("Juniper Schools", "juniper.example"),
    ("", "mail.example"),
)  # fmt: skip
# Upcoming webinars: people register, confirm or cancel (attendance comes later).
STATUSES = (RegistrantStatus.REGISTERED, RegistrantStatus.CONFIRMED, RegistrantStatus.CANCELLED)
STATUS_WEIGHTS = (55, 35, 10)


def registrant_email(webinar_number: int, n: int) -> str:
    first, last, (_, domain) = _person(webinar_number, n)
    return f"{first}.{last}.{n}@{domain}".lower()


def _person(webinar_number: int, n: int) -> tuple[str, str, tuple[str, str]]:
    rng = random.Random(webinar_number * 1_000_003 + n)
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), rng.choice(COMPANIES)


def registrant(webinar_id: int, webinar_number: int, n: int) -> WebinarRegistrant:
    """Registrant n of the webinar_number-th demo webinar; its email is unique per webinar."""
    first, last, (company, _) = _person(webinar_number, n)
    rng = random.Random(-(webinar_number * 1_000_003 + n))
    return WebinarRegistrant(
        webinar_id=webinar_id,
        name=f"{first} {last}",
        email=registrant_email(webinar_number, n),
        company=company,
        status=rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0],
    )


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    group: str | None = None
    is_staff: bool = False
    is_superuser: bool = False


DEMO_USERS = (
    DemoUser("admin@example.com", "Admin Istrator", is_staff=True, is_superuser=True),
    DemoUser("marketing@example.com", "Mara Marketing", group="Marketing", is_staff=True),
    DemoUser("sales@example.com", "Sal Sales", group="Sales", is_staff=True),
    DemoUser("support@example.com", "Sue Support", group="Support", is_staff=True),
    DemoUser("user@example.com", "Una User"),
)
