"""`kitmanager certificates ...` and `kitmanager verify CODE-or-URL`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from kitmanager.audit import cli_actor
from kitmanager.certificates.imported_lists import (
    MAX_LIST_FILE_BYTES,
    import_status_list,
    issuer_status,
)
from kitmanager.certificates.openbadges import kept_revocation_list
from kitmanager.certificates.printing import certificates_pdf, certificates_zip
from kitmanager.certificates.services import (
    CertificateError,
    certificate_base_url,
    certificate_by_code,
    issue_certificates,
    normalise_code,
    revoke_certificate,
    rule_for,
    update_rule,
    valid_certificates,
)
from kitmanager.certificates.verification import (
    SignedFacts,
    check_signed_facts,
    parse_verify_url,
)
from kitmanager.network import NoBadgeAddress
from kitmanager.signing import (
    SigningKeyError,
    b64url_encode,
    installation_key,
    load_public_key,
    public_key_pem,
    trust_public_key,
    trusted_public_keys,
)
from kitmanager.unit_of_work import command_unit_of_work, discard_work, unit_of_work
from kitmanager.workshops.cli import workshop_or_fail

certificates_group = AppGroup("certificates", help="Issue, print and revoke certificates.")


def _base_url() -> str:
    try:
        return certificate_base_url()
    except NoBadgeAddress as exc:
        raise click.ClickException(str(exc)) from None


@certificates_group.command("issue")
@click.argument("slug")
@click.option(
    "--issuer",
    metavar="NAME",
    help="Your organisation's name, printed on the certificates and signed with them "
    "(kept as the workshop's issuer, like 'Issued by' on its Certificates page).",
)
@with_appcontext
def issue_command(slug: str, issuer: str | None) -> None:
    """Issue a certificate to everyone eligible in workshop SLUG who has none yet."""
    workshop = workshop_or_fail(slug)
    try:
        with unit_of_work():
            if issuer is not None:
                update_rule(cli_actor(), workshop, issuer=" ".join(issuer.split()))
            result = issue_certificates(cli_actor(), workshop)
    except CertificateError as exc:
        hint = ' Or name it here: --issuer "Your organisation".'
        if rule_for(workshop).issuer:
            hint = ""
        raise click.ClickException(str(exc) + hint) from None
    for certificate in result.issued:
        click.echo(f"{certificate.code}  {certificate.participant.full_name}")
    for standing in result.not_eligible:
        click.echo(
            f"not eligible: {standing.participant.full_name} ({'; '.join(standing.reasons)})",
            err=True,
        )
    click.echo(
        f"{len(result.issued)} issued, {result.already} already had one, "
        f"{len(result.not_eligible)} not eligible yet.",
        err=True,
    )


@certificates_group.command("pdf")
@click.argument("slug")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@click.option("--zip", "as_zip", is_flag=True, help="A ZIP with one PDF per participant.")
@with_appcontext
def pdf_command(slug: str, output: Path | None, as_zip: bool) -> None:
    """Print the valid certificates of workshop SLUG as one PDF (or a ZIP of PDFs)."""
    workshop = workshop_or_fail(slug)
    certificates = valid_certificates(workshop)
    base = _base_url()
    try:
        if as_zip:
            data, warnings = certificates_zip(workshop, certificates, base)
        else:
            result = certificates_pdf(workshop, certificates, base)
            data, warnings = result.pdf, result.warnings
    except CertificateError as exc:
        raise click.ClickException(str(exc)) from None
    target = output or Path(f"{workshop.slug}-certificates.{'zip' if as_zip else 'pdf'}")
    target.write_bytes(data)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"Wrote {len(certificates)} certificates to {target}; "
        f"their QR codes open {base}/verify/...",
        err=True,
    )


@certificates_group.command("revoke")
@click.argument("code")
@click.option("--reason", required=True, help="Why; the verify page shows it.")
@with_appcontext
def revoke_command(code: str, reason: str) -> None:
    """Revoke certificate CODE."""
    with command_unit_of_work():
        certificate = revoke_certificate(cli_actor(), code, reason)
    click.echo(f"Revoked {certificate.code}: {certificate.revoke_reason}")


@certificates_group.command("public-key")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@with_appcontext
def public_key_command(output: Path | None) -> None:
    """Print (or write) the public key that checks this installation's certificates."""
    try:
        pem = public_key_pem(installation_key())
    except SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if output:
        output.write_text(pem, encoding="ascii")
        click.echo(f"Wrote the public key to {output}.", err=True)
    else:
        click.echo(pem, nl=False)


@certificates_group.command("trust")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def trust_command(key_file: Path) -> None:
    """Accept certificates signed by another installation's public KEY_FILE (its
    `certificates public-key`), e.g. on the permanent site their QR codes open."""
    try:
        path, new = trust_public_key(Path(current_app.config["DATA_DIR"]), key_file.read_bytes())
    except SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if new:
        click.echo(f"Certificates signed by this key now verify here (kept in {path}).")
    else:
        click.echo("This key is already trusted here; nothing changed.")


status_list_group = AppGroup(
    "status-list",
    help="Carry a laptop's revocation list to the permanent site its certificates open.",
)


@status_list_group.command("export")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@with_appcontext
def status_list_export_command(output: Path | None) -> None:
    """Write (or print) this installation's signed revocation list, as its address serves it:
    import it on the site with `kitmanager certificates status-list import FILE`."""
    try:
        kept = kept_revocation_list(_base_url(), installation_key())
    except SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if output:
        output.write_bytes(kept.jwt)
        click.echo(
            f"Wrote the revocation list to {output}; on the site: kitmanager certificates "
            f"status-list import {output.name}",
            err=True,
        )
    else:
        click.echo(kept.jwt.decode("ascii"))


@status_list_group.command("import")
@click.argument("list_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def status_list_import_command(list_file: Path) -> None:
    """Serve and use the revocation list LIST_FILE of a laptop whose key is trusted here (the
    file its `certificates status-list export` wrote); an older list than the one here is
    refused."""
    with list_file.open("rb") as handle:
        data = handle.read(MAX_LIST_FILE_BYTES + 1)
    with command_unit_of_work():
        result = import_status_list(cli_actor(), data)
    click.echo(result.message())


certificates_group.add_command(status_list_group)


def _local_record(code: str):
    """The record of ``code`` in this database, or None (also when there is no database)."""
    try:
        return certificate_by_code(code)
    except SQLAlchemyError:
        discard_work()
        return None


@click.command("verify")
@click.argument("code_or_url")
@click.option(
    "--public-key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM public key of the issuer (default: this installation's key and those it trusts).",
)
@with_appcontext
def verify_command(code_or_url: str, key_file: Path | None) -> None:
    """Check a certificate: a verify URL (from its QR code) or a code known to this database,
    with the issuer's public key (default: this installation's key and the keys it trusts).

    Exits 0 when valid, 1 when not valid or revoked.
    """
    try:
        public = (
            [load_public_key(key_file.read_bytes())]
            if key_file
            else trusted_public_keys(Path(current_app.config["DATA_DIR"]), create=False)
        )
    except SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None
    signed = parse_verify_url(code_or_url)
    record = None
    if signed is None:
        # a code, or a short verify address without the facts (".../verify/CODE")
        code = normalise_code(code_or_url.rstrip("/").rsplit("/", 1)[-1].split("?")[0])
        record = _local_record(code) if code else None
        if record is None or record.participant.deleted_at is not None:
            raise click.ClickException(
                f"{code_or_url!r} is neither a verify URL nor a certificate code in this "
                "database: give the URL its QR code holds."
            )
        signed = SignedFacts(
            record.code, b64url_encode(record.facts.encode("utf-8")), record.signature
        )
    else:
        record = _local_record(normalise_code(signed.code))
    if not public:
        raise click.ClickException(
            "No certificate was issued here and no issuer's key is trusted here: give the "
            "issuer's public key with --public-key FILE (the file their `kitmanager "
            "certificates public-key` wrote)."
        )
    check = check_signed_facts(signed, public)
    facts = check.facts or {}
    for key in ("code", "name", "workshop", "first_date", "last_date", "hours", "issuer", "issued"):
        if key in facts:
            click.echo(f"{key:<11} {facts[key]}")
    if not check.valid:
        click.echo(f"NOT VALID: {check.problem}")
        if key_file is None:
            click.echo(
                "Checked with this installation's key and the keys it trusts; a certificate "
                "issued on another laptop needs its public key: --public-key FILE."
            )
        raise SystemExit(1)
    if record is not None and record.code == check.code and record.revoked_at is not None:
        click.echo(f"REVOKED on {record.revoked_at:%Y-%m-%d}: {record.revoke_reason}")
        raise SystemExit(1)
    issuer = issuer_status(check.signer, facts) if check.signer else None
    if issuer is not None and issuer.revoked:
        click.echo(
            "REVOKED on the laptop that issued it (its revocation list was brought here on "
            f"{issuer.imported.brought_at:%Y-%m-%d})"
        )
        raise SystemExit(1)
    click.echo("VALID")
    if issuer is not None and issuer.revoked is None:
        why = "its revocation list was never brought here"
        if issuer.index is None:
            why = "this certificate is older than the revocation lists read here"
        click.echo(f"Revocations made on the laptop that issued it cannot be checked here: {why}.")


def register(app: Flask) -> None:
    app.cli.add_command(certificates_group)
    app.cli.add_command(verify_command)
