"""A verify link is read in the one spelling the app writes, and an Open Badge carries a status
a verifier can check: its bit in the installation's revocation list (W3C Bitstring Status List
v1.0), served publicly, signed like the badge, set when the certificate is revoked."""

from __future__ import annotations

import base64
import gzip
import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import select

from kitmanager.certificates.openbadges import status_list_key_id
from kitmanager.certificates.status_list import LIST_BITS, index_secret, status_index
from kitmanager.extensions import db
from kitmanager.models import Certificate, Participant
from kitmanager.signing import (
    b64url_decode,
    b64url_encode,
    load_or_create_signing_key,
    load_public_key,
)
from tests.web.conftest import csrf_token, login
from tests.web.helpers import add_people
from tests.web.test_certificates import (
    _attend,
    _issue_from_page,
    _path,
    _sessions,
    _setup,
    _verdict,
    _verify_url,
)

# Chloé: the base64url of her certificate's facts holds a "-" or "_" wherever the random
# code and the issue date fall, so its "+" and "/" spelling always differs from it.
NAME = "Chloé Koné"
ENCODING_REASON = "scan the QR code on the certificate again rather than using a copied link"


@pytest.fixture
def issued(app: Flask, organiser) -> dict[str, int]:
    """Two sessions attended by Chloé and Ben, their certificates issued from the page."""
    _setup(app)
    sessions = _sessions(app, "nairobi", 2)
    people = (NAME, "Ben Otieno")
    ids = dict(zip(people, add_people(app, "nairobi", *people), strict=True))
    for person in ids.values():
        _attend(app, person, sessions)
    assert "2 certificates issued." in _issue_from_page(organiser)
    return ids


# ------------------------------------------------------------------ one spelling


def _parts(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path, query["d"][0], query["s"][0]


def _link(path: str, data: str, signature: str) -> str:
    return f"http://kit.test{path}?d={quote(data, safe='')}&s={quote(signature, safe='')}"


def _with_trailing_bits(text: str) -> str:
    """``text`` with its unused last bits set: the same bytes for a lenient decoder."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]


def _variants(url: str) -> dict[str, str]:
    path, data, signature = _parts(url)
    standard = str.maketrans("-_", "+/")
    assert data.translate(standard) != data, "the facts no longer hold - or _: pick NAME anew"
    assert len(signature) % 4 == 2  # 64 bytes: two characters short of a block, 4 bits unused
    return {
        "padding": _link(path, data, signature + "=="),
        "+ and /": _link(path, data.translate(standard), signature.translate(standard)),
        "trailing bits": _link(path, data, _with_trailing_bits(signature)),
        "a space": _link(path, data, signature[:40] + " " + signature[40:]),
        "a line break": _link(path, data + "\n", signature),
    }


def _lenient(text: str) -> bytes:
    """What Python's forgiving decoder (and the app before) reads from ``text``."""
    return base64.urlsafe_b64decode(text + "==")


def test_every_other_spelling_of_a_valid_verify_link_reads_not_valid_with_the_reason(
    app, issued, client, runner
):
    url = _verify_url(app, NAME)
    assert _verdict(client, url) == "✓ Valid"
    assert runner.invoke(args=["verify", url]).exit_code == 0
    _, data, signature = _parts(url)
    for name, variant in _variants(url).items():
        _, other_data, other_signature = _parts(variant)
        # the same bytes, spelled otherwise
        assert _lenient(other_data) == b64url_decode(data), name
        assert _lenient(other_signature) == b64url_decode(signature), name
        response = client.get(_path(variant))
        assert response.status_code == 200, name
        page = response.get_data(as_text=True)
        assert "✗ Not valid" in page and "✓ Valid" not in page, name
        assert ENCODING_REASON in page and NAME not in page, name
        checked = runner.invoke(args=["verify", variant])
        assert checked.exit_code == 1, (name, checked.output)
        assert "NOT VALID: the facts or the signature are not base64url without padding" in (
            checked.output
        ), name
    assert _verdict(client, url) == "✓ Valid"  # the issued spelling still checks


def test_a_forged_link_says_why_it_is_not_valid_whatever_its_details_hold(app, issued, client):
    path, data, signature = _parts(_verify_url(app, NAME))
    forged = ("B" if signature[0] == "A" else "A") + signature[1:]
    page = client.get(_path(_link(path, data, forged))).get_data(as_text=True)
    assert "The signature does not match these details" in page
    nested = base64.urlsafe_b64encode(b"[" * 50_000).rstrip(b"=").decode()
    response = client.get(_path(_link(path, nested, signature)))
    assert response.status_code == 200
    assert "✗ Not valid" in response.get_data(as_text=True)
    facts = json.loads(b64url_decode(data))
    for odd in (True, None, [1], {"a": 1}, float("inf")):
        claimed = {**facts, "hours": odd, "name": odd}
        odd_data = base64.urlsafe_b64encode(json.dumps(claimed).encode()).rstrip(b"=").decode()
        response = client.get(_path(_link(path, odd_data, signature)))
        assert response.status_code == 200, odd
        assert "The signature does not match these details" in response.get_data(as_text=True)


# ------------------------------------------------------------------ the status of a badge


def _badge(organiser, participant_id: int) -> str:
    response = organiser.get(f"/workshops/nairobi/certificates/{participant_id}.jwt")
    assert response.status_code == 200
    return response.data.decode("ascii")


def _verified(token: str, pem: bytes) -> dict:
    from joserfc import jws
    from joserfc.jwk import OKPKey

    result = jws.deserialize_compact(token, OKPKey.import_key(pem), algorithms=["EdDSA"])
    assert result.headers()["alg"] == "EdDSA"
    return json.loads(result.payload)


def _bits(encoded_list: str) -> bytes:
    """The bitstring of an ``encodedList``: multibase base64url (``u``), then GZIP."""
    assert encoded_list.startswith("u") and "=" not in encoded_list
    text = encoded_list[1:]
    return gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def _bit(bits: bytes, index: int) -> int:
    return bits[index // 8] >> (7 - index % 8) & 1  # index 0 is the left-most bit


def _fetch(app: Flask, status: dict, **headers: str):
    """The list a badge's status points to, asked for as a stranger would."""
    return app.test_client().get(urlsplit(status["statusListCredential"]).path, headers=headers)


def _status_list(app: Flask, status: dict, pem: bytes) -> tuple[dict, bytes, str]:
    """The list a badge's status points to: its payload (its signature checked), its bits
    and its ETag."""
    response = _fetch(app, status)
    assert response.status_code == 200 and response.mimetype == "application/vc+jwt"
    assert "public" in response.headers["Cache-Control"]
    assert "no-store" not in response.headers["Cache-Control"]
    listed = _verified(response.data.decode("ascii"), pem)
    return listed, _bits(listed["credentialSubject"]["encodedList"]), response.headers["ETag"]


def test_a_badge_points_to_a_signed_revocation_list_whose_bit_is_set_when_it_is_revoked(
    app, issued, organiser, runner
):
    pem = organiser.get("/certificates/public-key.pem").data
    chloe = _badge(organiser, issued[NAME])
    badge = _verified(chloe, pem)
    status = badge["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    index = int(status["statusListIndex"])
    assert status["statusListIndex"] == str(index) and index >= 0
    assert status["statusListCredential"].startswith("http://kit.test/credentials/status/")
    assert status["id"] == f"{status['statusListCredential']}#{index}"
    ben = _verified(_badge(organiser, issued["Ben Otieno"]), pem)["credentialStatus"]
    assert ben["statusListCredential"] == status["statusListCredential"]
    assert ben["statusListIndex"] != status["statusListIndex"]

    listed, bits, etag = _status_list(app, status, pem)
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["id"] == status["statusListCredential"]
    assert listed["issuer"] == badge["issuer"]["id"] == listed["iss"]
    assert listed["validFrom"] and listed["nbf"]
    subject = listed["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "revocation"
    assert len(bits) * 8 >= 131_072 and index < len(bits) * 8
    assert _bit(bits, index) == 0 and not any(bits)
    # asked again with nothing changed: the list made once, or 304 for a cache holding it
    assert _fetch(app, status).data == _fetch(app, status).data
    assert _fetch(app, status, **{"If-None-Match": etag}).status_code == 304

    with app.app_context():
        code = db.session.scalars(
            select(Certificate.code).where(Certificate.participant_id == issued[NAME])
        ).one()
    result = runner.invoke(args=["certificates", "revoke", code, "--reason", "Issued by mistake"])
    assert result.exit_code == 0, result.output

    listed, bits, new_etag = _status_list(app, status, pem)
    assert new_etag != etag
    assert _bit(bits, index) == 1  # the badge in the wallet, unchanged, now reads revoked
    assert _bit(bits, int(ben["statusListIndex"])) == 0
    assert sum(bin(byte).count("1") for byte in bits) == 1
    assert _verified(chloe, pem)["credentialStatus"] == status
    assert organiser.get(f"/workshops/nairobi/certificates/{issued[NAME]}.jwt").status_code == 404

    # re-issuing Ben: his old badge reads revoked, his new one has its own place, not revoked
    with app.app_context():
        ben_code = db.session.scalars(
            select(Certificate.code).where(Certificate.participant_id == issued["Ben Otieno"])
        ).one()
    response = organiser.post(
        f"/certificates/{ben_code}/reissue",
        data={
            "csrf_token": csrf_token(organiser, "/workshops/nairobi/certificates"),
            "reason": "Name corrected",
        },
        follow_redirects=True,
    )
    assert "revoked and replaced by" in response.get_data(as_text=True)
    new_ben = _verified(_badge(organiser, issued["Ben Otieno"]), pem)["credentialStatus"]
    _listed, bits, _etag = _status_list(app, status, pem)
    assert _bit(bits, int(ben["statusListIndex"])) == 1
    assert new_ben["statusListIndex"] not in (ben["statusListIndex"], status["statusListIndex"])
    assert _bit(bits, int(new_ben["statusListIndex"])) == 0
    assert sum(bin(byte).count("1") for byte in bits) == 2


def test_a_deleted_persons_revoked_certificate_stays_revoked_in_the_list(app, issued, organiser):
    from kitmanager.audit import cli_actor
    from kitmanager.certificates.services import revoke_certificate
    from kitmanager.participants.services import delete_participant

    pem = organiser.get("/certificates/public-key.pem").data
    status = _verified(_badge(organiser, issued[NAME]), pem)["credentialStatus"]
    with app.app_context():
        delete_participant(cli_actor(), db.session.get(Participant, issued[NAME]))
        code = db.session.scalars(
            select(Certificate.code).where(Certificate.participant_id == issued[NAME])
        ).one()
        revoke_certificate(cli_actor(), code, "Issued by mistake")
        db.session.commit()
    _listed, bits, _etag = _status_list(app, status, pem)
    assert _bit(bits, int(status["statusListIndex"])) == 1


def test_only_this_installations_list_is_served_here(app, issued, organiser):
    pem = organiser.get("/certificates/public-key.pem").data
    status = _verified(_badge(organiser, issued[NAME]), pem)["credentialStatus"]
    assert _fetch(app, status).status_code == 200
    other = status_list_key_id(Ed25519PrivateKey.generate().public_key())
    assert app.test_client().get(f"/credentials/status/{other}").status_code == 404


def test_every_certificate_id_has_a_place_of_its_own_that_hides_the_order(data_dir, tmp_path):
    secret = index_secret(load_or_create_signing_key(data_dir))
    places = [status_index(i, secret) for i in range(LIST_BITS)]
    assert sorted(places) == list(range(LIST_BITS))  # one to one: no two share a bit
    assert places[:100] != sorted(places[:100])  # not in the order issued
    assert LIST_BITS <= status_index(LIST_BITS + 7, secret) < 2 * LIST_BITS  # the next block
    other = tmp_path / "other"
    other.mkdir()
    other_secret = index_secret(load_or_create_signing_key(other))
    assert [status_index(i, other_secret) for i in range(50)] != places[:50]


# ------------------------------------------------------------------ lists carried to the site


@pytest.fixture
def site(tmp_path, migrated_db) -> Iterator[Flask]:
    """The organisation's permanent site: another installation (its own data folder and
    key), at the address the laptop's certificates open."""
    from kitmanager import create_app
    from kitmanager.config import DATABASE_FILE

    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(migrated_db, folder / DATABASE_FILE)
    site = create_app({"DATA_DIR": folder, "TESTING": True, "BASE_URL": "http://kit.test"})
    yield site
    with site.app_context():
        db.session.remove()
        db.engine.dispose()


def _trust_laptop(runner, site: Flask, tmp_path: Path) -> bytes:
    """The site trusts the laptop's public key; returns the key (PEM)."""
    key_file = tmp_path / "laptop-key.pem"
    assert runner.invoke(args=["certificates", "public-key", "-o", str(key_file)]).exit_code == 0
    trusted = site.test_cli_runner().invoke(args=["certificates", "trust", str(key_file)])
    assert trusted.exit_code == 0 and "now verify here" in trusted.output, trusted.output
    return key_file.read_bytes()


def _key_id(pem: bytes) -> str:
    return status_list_key_id(load_public_key(pem))


def _export(runner, target: Path) -> bytes:
    result = runner.invoke(args=["certificates", "status-list", "export", "-o", str(target)])
    assert result.exit_code == 0, result.output
    return target.read_bytes()


def _import(site: Flask, source: Path):
    return site.test_cli_runner().invoke(
        args=["certificates", "status-list", "import", str(source)]
    )


def _revoke(app: Flask, runner, participant_id: int) -> str:
    with app.app_context():
        code = db.session.scalars(
            select(Certificate.code).where(Certificate.participant_id == participant_id)
        ).one()
    result = runner.invoke(args=["certificates", "revoke", code, "--reason", "Issued by mistake"])
    assert result.exit_code == 0, result.output
    return code


def _page(client, url: str) -> str:
    return client.get(_path(url)).get_data(as_text=True)


def test_a_list_carried_from_the_laptop_is_served_by_the_site_and_its_verify_page_reads_it(
    app, issued, organiser, runner, site, tmp_path
):
    pem = _trust_laptop(runner, site, tmp_path)
    chloe_url, ben_url = _verify_url(app, NAME), _verify_url(app, "Ben Otieno")
    status = _verified(_badge(organiser, issued[NAME]), pem)["credentialStatus"]
    ben_status = _verified(_badge(organiser, issued["Ben Otieno"]), pem)["credentialStatus"]
    # the signed facts of the QR code hold the place its badge names in the list
    _, data, _ = _parts(chloe_url)
    assert json.loads(b64url_decode(data))["status"] == int(status["statusListIndex"])
    visitor = site.test_client()
    # nothing carried yet: the site says plainly that it cannot tell, and has no list
    assert _verdict(visitor, chloe_url) == "✓ Valid"
    assert "its revocation list was never brought here" in _page(visitor, chloe_url)
    assert _fetch(site, status).status_code == 404

    _revoke(app, runner, issued[NAME])
    exported = _export(runner, tmp_path / "list.jwt")
    assert exported == _fetch(app, status).data  # exactly what the laptop serves
    result = _import(site, tmp_path / "list.jwt")
    assert result.exit_code == 0, result.output
    assert "Revocation list imported" in result.output
    assert "1 certificate revoked in it" in result.output

    served = _fetch(site, status)
    own = _fetch(app, status)
    assert served.status_code == 200 and served.data == exported
    assert served.mimetype == own.mimetype == "application/vc+jwt"
    assert served.headers["Cache-Control"] == own.headers["Cache-Control"]
    assert served.headers["Access-Control-Allow-Origin"] == "*"
    assert _fetch(site, status, **{"If-None-Match": served.headers["ETag"]}).status_code == 304
    listed, bits, _etag = _status_list(site, status, pem)  # checks with the laptop's key
    assert listed["id"] == status["statusListCredential"]
    assert _bit(bits, int(status["statusListIndex"])) == 1
    assert _bit(bits, int(ben_status["statusListIndex"])) == 0

    page = _page(visitor, chloe_url)
    assert _verdict(visitor, chloe_url) == "✗ Revoked"
    assert "Revoked on the laptop that issued it; its revocation list was brought here on" in page
    assert NAME in page
    assert _verdict(visitor, ben_url) == "✓ Valid"
    assert "Not revoked on the laptop that issued it, as of its revocation list" in (
        _page(visitor, ben_url)
    )
    checked = site.test_cli_runner().invoke(args=["verify", chloe_url])
    assert checked.exit_code == 1 and "REVOKED on the laptop that issued it" in checked.output
    assert site.test_cli_runner().invoke(args=["verify", ben_url]).exit_code == 0

    # kept for the site's account alone; the same file again changes nothing
    kept = Path(site.config["DATA_DIR"]) / "status_lists" / f"{_key_id(pem)}.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert kept.parent.stat().st_mode & 0o777 == 0o700
    again = _import(site, tmp_path / "list.jwt")
    assert again.exit_code == 0 and "already here; nothing changed" in again.output
    # a key the site does not know still has no list there
    other = status_list_key_id(Ed25519PrivateKey.generate().public_key())
    assert site.test_client().get(f"/credentials/status/{other}").status_code == 404


def test_an_older_list_is_refused_so_a_revocation_is_never_undone(
    app, issued, organiser, runner, site, tmp_path
):
    pem = _trust_laptop(runner, site, tmp_path)
    chloe_url = _verify_url(app, NAME)
    status = _verified(_badge(organiser, issued[NAME]), pem)["credentialStatus"]
    before = _export(runner, tmp_path / "before.jwt")
    time.sleep(1.1)  # the lists carry their time to the second
    _revoke(app, runner, issued[NAME])
    after = _export(runner, tmp_path / "after.jwt")
    assert before != after
    assert _import(site, tmp_path / "before.jwt").exit_code == 0
    assert _verdict(site.test_client(), chloe_url) == "✓ Valid"
    assert _import(site, tmp_path / "after.jwt").exit_code == 0  # a newer one replaces it
    assert _verdict(site.test_client(), chloe_url) == "✗ Revoked"

    refused = _import(site, tmp_path / "before.jwt")
    assert refused.exit_code == 1
    assert "before the one already here" in refused.output
    assert "nothing was imported, so no revocation is undone" in refused.output
    assert _fetch(site, status).data == after
    assert _verdict(site.test_client(), chloe_url) == "✗ Revoked"


def test_a_list_the_site_cannot_vouch_for_is_refused_and_nothing_is_kept(
    app, issued, organiser, runner, site, tmp_path
):
    laptop_pem = organiser.get("/certificates/public-key.pem").data
    status = _verified(_badge(organiser, issued[NAME]), laptop_pem)["credentialStatus"]
    _revoke(app, runner, issued[NAME])
    exported = _export(runner, tmp_path / "list.jwt")
    folder = Path(site.config["DATA_DIR"]) / "status_lists"

    # the laptop's key is not trusted there yet
    refused = _import(site, tmp_path / "list.jwt")
    assert refused.exit_code == 1
    assert "not signed by a key this site trusts" in refused.output
    assert "kitmanager certificates trust laptop-key.pem" in refused.output
    assert not folder.exists() and _fetch(site, status).status_code == 404

    _trust_laptop(runner, site, tmp_path)
    # one changed bit, the signature kept: vouched for by no key
    header, payload, signature = exported.decode("ascii").split(".")
    body = json.loads(b64url_decode(payload))
    body["credentialSubject"]["encodedList"] = "u" + base64.urlsafe_b64encode(
        gzip.compress(bytes(LIST_BITS // 8), mtime=0)
    ).rstrip(b"=").decode("ascii")
    forged = ".".join((header, b64url_encode(json.dumps(body).encode()), signature))
    (tmp_path / "forged.jwt").write_text(forged, encoding="ascii")
    refused = _import(site, tmp_path / "forged.jwt")
    assert refused.exit_code == 1 and "not signed by a key this site trusts" in refused.output
    (tmp_path / "nonsense.jwt").write_bytes(b"\x00not a list")
    refused = _import(site, tmp_path / "nonsense.jwt")
    assert refused.exit_code == 1 and "is not a kitmanager revocation list" in refused.output
    # the site's own list is served from its own records, never imported
    site_list = site.test_cli_runner().invoke(args=["certificates", "status-list", "export"])
    assert site_list.exit_code == 0, site_list.output
    (tmp_path / "own.jwt").write_text(site_list.output.strip(), encoding="ascii")
    refused = _import(site, tmp_path / "own.jwt")
    assert refused.exit_code == 1 and "this installation's own revocation list" in refused.output
    assert not folder.exists() and _fetch(site, status).status_code == 404


def test_a_list_signed_by_another_trusted_key_than_its_address_names_is_refused(
    app, issued, organiser, runner, site, tmp_path
):
    """A trusted key signing a list that claims another key's address: refused."""
    from kitmanager.certificates.openbadges import _vc_jwt, revocation_list_credential
    from kitmanager.models import utcnow

    pem = _trust_laptop(runner, site, tmp_path)
    with app.app_context():
        key = load_or_create_signing_key(Path(app.config["DATA_DIR"]))
        body = revocation_list_credential("http://kit.test", key, [], 1, utcnow())
        other = status_list_key_id(Ed25519PrivateKey.generate().public_key())
        body["id"] = f"http://kit.test/credentials/status/{other}"
        token = _vc_jwt(body, key, utcnow())
    (tmp_path / "elsewhere.jwt").write_text(token, encoding="ascii")
    refused = _import(site, tmp_path / "elsewhere.jwt")
    assert refused.exit_code == 1
    assert "not the revocation list of the key that signed it" in refused.output
    assert site.test_client().get(f"/credentials/status/{other}").status_code == 404
    assert site.test_client().get(f"/credentials/status/{_key_id(pem)}").status_code == 404


def test_the_list_travels_through_the_certificate_address_pages_too(
    app, issued, organiser, runner, site, tmp_path
):
    pem = _trust_laptop(runner, site, tmp_path)
    status = _verified(_badge(organiser, issued[NAME]), pem)["credentialStatus"]
    _revoke(app, runner, issued[NAME])
    page = organiser.get("/certificates/address").get_data(as_text=True)
    assert "/certificates/status-list.jwt" in page
    downloaded = organiser.get("/certificates/status-list.jwt")
    assert downloaded.status_code == 200
    assert "attachment" in downloaded.headers["Content-Disposition"]
    assert downloaded.data == _fetch(app, status).data

    site_organiser = site.test_client()
    login(site_organiser, "olga")
    url = "/certificates/address"
    response = site_organiser.post(
        "/certificates/status-list",
        data={
            "csrf_token": csrf_token(site_organiser, url),
            "list_file": (io.BytesIO(downloaded.data), "kitmanager-revocation-list.jwt"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    text = response.get_data(as_text=True)
    assert "1 certificate revoked in it" in text
    assert f"Laptop key {_key_id(pem)[:12]}" in text
    assert _fetch(site, status).data == downloaded.data
    assert _verdict(site.test_client(), _verify_url(app, "Ben Otieno")) == "✓ Valid"
    empty = site_organiser.post(
        "/certificates/status-list",
        data={"csrf_token": csrf_token(site_organiser, url)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Choose the revocation list file the laptop wrote" in empty.get_data(as_text=True)
    with site.app_context():
        from kitmanager.models import AuditEvent

        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("certificate.status_list_imported") == 1


def test_a_certificate_issued_before_it_signed_its_place_says_its_revocation_is_unknown(
    app, issued, organiser, runner, site, tmp_path
):
    """A certificate issued by an older version (no ``status`` fact) still verifies on the
    site, with a note that whether its laptop revoked it cannot be told there."""
    from kitmanager.certificates.verification import canonical_facts

    _trust_laptop(runner, site, tmp_path)
    with app.app_context():
        key = load_or_create_signing_key(Path(app.config["DATA_DIR"]))
        certificate = db.session.scalars(
            select(Certificate).where(Certificate.participant_id == issued[NAME])
        ).one()
        facts = json.loads(certificate.facts)
        del facts["status"]
        signed = canonical_facts(facts)
        certificate.facts = signed.decode("utf-8")
        certificate.signature = b64url_encode(key.sign(signed))
        db.session.commit()
    old_url = _verify_url(app, NAME)
    _revoke(app, runner, issued["Ben Otieno"])
    _export(runner, tmp_path / "list.jwt")
    assert _import(site, tmp_path / "list.jwt").exit_code == 0
    visitor = site.test_client()
    assert _verdict(visitor, old_url) == "✓ Valid"
    assert "this certificate is older than the revocation lists this site reads" in (
        _page(visitor, old_url)
    )
    assert _verdict(app.test_client(), old_url) == "✓ Valid"  # the laptop: as before
