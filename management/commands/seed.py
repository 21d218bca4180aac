"""`seed`: idempotent demo data (products, webinars, registrants, roles, one user per role)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from auth import ROLE_PERMISSIONS
from fastmango.accounts.account_service import AccountService, all_codenames
from fastmango.accounts.models import User
from fastmango.db import Database
from fastmango.management.common import console, load_settings, run_with_database, warn
from fastmango.orm import utcnow
from management import demo_data
from models import Product, Webinar, WebinarRegistrant
from settings import Settings

BATCH_SIZE = 1000


@dataclass(frozen=True)
class SeedOptions:
    products: int = 1000
    registrants: int = 210  # per webinar
    users: bool = True


@dataclass
class SeedReport:
    """Per kind of row: how many this run created and how many were already there."""

    created: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, created: int, present: int) -> None:
        self.created[kind] = self.created.get(kind, 0) + created
        self.present[kind] = self.present.get(kind, 0) + present

    @property
    def total_created(self) -> int:
        return sum(self.created.values())


def _progress(output: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=output,
    )


async def _seed_products(count: int, report: SeedReport, progress: Progress) -> None:
    task = progress.add_task("Products", total=count)
    for start in range(1, count + 1, BATCH_SIZE):
        names = {
            n: demo_data.product_name(n) for n in range(start, min(start + BATCH_SIZE, count + 1))
        }
        qs = Product.objects.filter(name__in=list(names.values()))
        existing = set(await qs.values_list("name", flat=True))
        missing = [demo_data.product(n) for n, name in names.items() if name not in existing]
        if missing:
            await Product.objects.bulk_create(missing, batch_size=BATCH_SIZE)
        report.add("Products", len(missing), len(names) - len(missing))
        progress.advance(task, len(names))


async def _seed_webinars(per_webinar: int, report: SeedReport, progress: Progress) -> None:
    today = utcnow()
    task = progress.add_task("Registrants", total=per_webinar * len(demo_data.WEBINARS))
    for number, spec in enumerate(demo_data.WEBINARS, start=1):
        webinar: Webinar | None = await Webinar.objects.filter(title=spec.title).first()
        if webinar is None:
            webinar = await demo_data.webinar(spec, today).save()
            report.add("Webinars", 1, 0)
        else:
            report.add("Webinars", 0, 1)
        assert webinar.id is not None
        emails = set(
            await WebinarRegistrant.objects.filter(webinar_id=webinar.id).values_list(
                "email", flat=True
            )
        )
        missing = [
            demo_data.registrant(webinar.id, number, n)
            for n in range(1, per_webinar + 1)
            if demo_data.registrant_email(number, n) not in emails
        ]
        for start in range(0, len(missing), BATCH_SIZE):
            chunk = missing[start : start + BATCH_SIZE]
            await WebinarRegistrant.objects.bulk_create(chunk)
            progress.advance(task, len(chunk))
        progress.advance(task, per_webinar - len(missing))
        report.add("Registrants", len(missing), per_webinar - len(missing))


async def _seed_roles(accounts: AccountService, report: SeedReport) -> None:
    permissions = await accounts.ensure_permissions()
    report.add("Permissions", permissions, len(all_codenames()) - permissions)
    groups = await accounts.ensure_role_groups(ROLE_PERMISSIONS)
    report.add("Groups", groups, len(ROLE_PERMISSIONS) - groups)


async def _seed_users(accounts: AccountService, report: SeedReport) -> None:
    for demo in demo_data.DEMO_USERS:
        if await User.objects.filter(email=demo.email).exists():
            report.add("Users", 0, 1)
        else:
            # validate=False: the shared demo password is fixed, whatever the length rule.
            await accounts.create_user(
                demo.email,
                demo_data.DEMO_PASSWORD,
                full_name=demo.full_name,
                is_staff=demo.is_staff,
                is_superuser=demo.is_superuser,
                is_verified=True,
                validate=False,
            )
            report.add("Users", 1, 0)
        if demo.group:
            await accounts.add_to_group(demo.email, demo.group)


async def seed(
    database: Database, settings: Settings, options: SeedOptions, output: Console = console
) -> SeedReport:
    """Add whatever demo rows are missing; a second run creates nothing."""
    report = SeedReport()
    accounts = AccountService(password_min_length=settings.password_min_length)
    async with database.session():
        with _progress(output) as progress:
            await _seed_products(options.products, report, progress)
            await _seed_webinars(options.registrants, report, progress)
        await _seed_roles(accounts, report)
        if options.users and settings.is_production:
            report.notes.append(
                "Refusing to create demo users in production: they share a published "
                "password. Create real accounts with `python manage.py createsuperuser`."
            )
        elif options.users:
            await _seed_users(accounts, report)
    return report


def _summary(report: SeedReport) -> Table:
    table = Table(title="Demo data")
    table.add_column("Rows")
    table.add_column("Created", justify="right")
    table.add_column("Already present", justify="right")
    for kind, created in report.created.items():
        table.add_row(kind, str(created), str(report.present[kind]))
    return table


def command(
    products: Annotated[
        int, typer.Option("--products", min=0, help="How many demo products to have.")
    ] = SeedOptions.products,
    registrants: Annotated[
        int, typer.Option("--registrants", min=0, help="Registrants per demo webinar.")
    ] = SeedOptions.registrants,
    no_users: Annotated[
        bool, typer.Option("--no-users", help="Skip the demo users (one per role).")
    ] = False,
) -> None:
    """Fill the database with demo data; running it again adds only what is missing."""
    settings = load_settings(Settings)
    options = SeedOptions(products=products, registrants=registrants, users=not no_users)
    report = run_with_database(settings, lambda database: seed(database, settings, options))
    console.print(_summary(report))
    for note in report.notes:
        warn(note)
    if report.total_created == 0:
        console.print("Nothing to do: the demo data was already there.")
