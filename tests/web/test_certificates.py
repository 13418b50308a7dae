"""Certificates: eligibility, issuing signed certificates, verifying them (page and CLI),
revoking and re-issuing, PDFs whose QR codes the app accepts, Open Badges 3.0 credentials."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from kitmanager.audit import cli_actor
from kitmanager.certificates.services import (
    CODE_ALPHABET,
    CertificateError,
    eligibility,
    issue_certificates,
    revoke_certificate,
    rule_for,
    set_override,
    update_rule,
)
from kitmanager.checkin.services import check_in
from kitmanager.extensions import db
from kitmanager.models import AuditEvent, Certificate, Kit, Participant
from kitmanager.signing import SIGNING_KEY_FILE, b64url_decode, b64url_encode
from kitmanager.workshops.services import add_session, get_workshop
from tests.printouts.reading import read_pdf
from tests.web.conftest import csrf_token
from tests.web.e2e import kitmanager_exe
from tests.web.helpers import add_people, make_workshop

ISSUER = "Robotics Club Nairobi"


def _sessions(app: Flask, slug: str, count: int, hours: float = 2) -> list[int]:
    ids = []
    with app.app_context():
        workshop = get_workshop(slug)
        for i in range(count):
            start = datetime(2026, 12, 1, 8 + i * 3)
            end = start + timedelta(hours=hours)
            ids.append(add_session(cli_actor(), workshop, f"Session {i + 1}", start, end).id)
        db.session.commit()
    return ids


def _attend(app: Flask, participant_id: int, session_ids: list[int]) -> None:
    from kitmanager.models import WorkshopSession

    with app.app_context():
        person = db.session.get(Participant, participant_id)
        for sid in session_ids:
            check_in(cli_actor(), person, db.session.get(WorkshopSession, sid))
        db.session.commit()


def _setup(app: Flask, slug: str = "nairobi", language: str = "en", **rule) -> None:
    make_workshop(app, slug=slug, language=language)
    with app.app_context():
        update_rule(cli_actor(), get_workshop(slug), issuer=ISSUER, **rule)
        db.session.commit()


def _standings(app: Flask, slug: str) -> dict[str, object]:
    with app.app_context():
        return {
            s.participant.full_name: (s.eligible, s.reasons)
            for s in eligibility(get_workshop(slug))
        }


@pytest.fixture
def attended(app: Flask) -> dict[str, int]:
    """Four sessions; Awa came to all, Ben to 3 (exactly 75 %), Chi to 2, Dede to none."""
    _setup(app)
    sessions = _sessions(app, "nairobi", 4)
    ids = dict(
        zip(
            ("Awa Koné", "Ben Otieno", "Chi Eze", "Dede Mensah"),
            add_people(app, "nairobi", "Awa Koné", "Ben Otieno", "Chi Eze", "Dede Mensah"),
            strict=True,
        )
    )
    _attend(app, ids["Awa Koné"], sessions)
    _attend(app, ids["Ben Otieno"], sessions[:3])
    _attend(app, ids["Chi Eze"], sessions[:2])
    return ids


# ------------------------------------------------------------------ eligibility


def test_a_workshop_without_sessions_makes_nobody_eligible(app):
    _setup(app)
    add_people(app, "nairobi", "Awa Koné")
    assert _standings(app, "nairobi") == {"Awa Koné": (False, ["the workshop has no sessions yet"])}


def test_exactly_75_percent_is_eligible_and_the_page_says_why_others_are_not(
    app, attended, organiser
):
    standings = _standings(app, "nairobi")
    assert standings["Awa Koné"] == (True, [])
    assert standings["Ben Otieno"] == (True, [])  # 3 of 4 = 75 %
    assert standings["Chi Eze"] == (False, ["attended 2 of 4 sessions"])
    assert standings["Dede Mensah"] == (False, ["attended 0 of 4 sessions"])
    page = organiser.get("/workshops/nairobi/certificates").get_data(as_text=True)
    assert "attended 2 of 4 sessions" in page and "not yet" in page


def test_the_hours_rule_counts_hours_attended(app, attended):
    with app.app_context():
        update_rule(cli_actor(), get_workshop("nairobi"), min_hours=4.0)
        db.session.commit()
    standings = _standings(app, "nairobi")
    assert standings["Chi Eze"] == (True, [])  # 2 sessions of 2 h = exactly 4 h
    assert standings["Dede Mensah"] == (False, ["attended 0 of the 4 hours needed"])
    with app.app_context():
        update_rule(cli_actor(), get_workshop("nairobi"), min_hours=6.5)
        db.session.commit()
    assert _standings(app, "nairobi")["Ben Otieno"] == (
        False,
        ["attended 6 of the 6.5 hours needed"],
    )


def test_the_kit_returned_rule_waits_for_every_kit_they_or_their_team_hold(
    app, attended, organiser
):
    from kitmanager.kits.services import (
        ComponentLine,
        create_kit,
        create_kit_type,
        hand_out,
        return_kit,
    )

    with app.app_context():
        kit_type = create_kit_type(cli_actor(), "Line follower", [ComponentLine("Arduino Uno")])
        kit = create_kit(cli_actor(), kit_type, "KIT-001")
        awa = db.session.get(Participant, attended["Awa Koné"])
        hand_out(cli_actor(), kit, awa)
        kit_id = kit.id
        db.session.commit()
    assert _standings(app, "nairobi")["Awa Koné"] == (True, [])  # the rule is off
    token = csrf_token(organiser, "/workshops/nairobi/certificates")
    organiser.post(
        "/workshops/nairobi/certificates",
        data={
            "csrf_token": token,
            "basis": "sessions",
            "min_percent": "75",
            "kit_returned": "y",
            "issuer": ISSUER,
            "layout": "certificate-a4",
        },
    )
    standings = _standings(app, "nairobi")
    assert standings["Awa Koné"] == (False, ["1 kit not returned yet"])
    assert standings["Ben Otieno"] == (True, [])
    assert "1 kit not returned yet" in organiser.get("/workshops/nairobi/certificates").get_data(
        as_text=True
    )
    assert "1 certificate issued." in _issue_from_page(organiser)
    with app.app_context():
        return_kit(cli_actor(), db.session.get(Kit, kit_id))
        db.session.commit()
    assert _standings(app, "nairobi")["Awa Koné"] == (True, [])


def test_an_override_needs_a_reason_and_is_audited(app, attended, organiser):
    url = "/workshops/nairobi/certificates"
    chi = attended["Chi Eze"]
    token = csrf_token(organiser, url)
    organiser.post(f"{url}/override/{chi}", data={"csrf_token": token, "reason": " "})
    assert _standings(app, "nairobi")["Chi Eze"][0] is False
    response = organiser.post(
        f"{url}/override/{chi}",
        data={"csrf_token": token, "reason": "Ill for one day, did the work at home"},
        follow_redirects=True,
    )
    assert "Ill for one day" in response.get_data(as_text=True)
    assert _standings(app, "nairobi")["Chi Eze"][0] is True
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "certificate.override_set")
        ).all()
        assert [(e.actor, e.object_id, e.details["reason"]) for e in events] == [
            ("user:olga", chi, "Ill for one day, did the work at home")
        ]
        with pytest.raises(CertificateError):
            set_override(cli_actor(), db.session.get(Participant, chi), "")


# ------------------------------------------------------------------ issuing


def _issue_from_page(client) -> str:
    url = "/workshops/nairobi/certificates"
    response = client.post(
        f"{url}/issue", data={"csrf_token": csrf_token(client, url)}, follow_redirects=True
    )
    return response.get_data(as_text=True)


def _certificates(app: Flask) -> dict[str, Certificate]:
    with app.app_context():
        rows = db.session.scalars(select(Certificate)).all()
        for row in rows:
            db.session.expunge(row)
        return {json.loads(r.facts)["name"]: r for r in rows}


def test_issuing_signs_the_eligible_once_with_random_codes(app, attended, organiser, data_dir):
    page = _issue_from_page(organiser)
    assert "2 certificates issued." in page and "2 not eligible yet" in page
    certificates = _certificates(app)
    assert set(certificates) == {"Awa Koné", "Ben Otieno"}
    for cert in certificates.values():
        assert len(cert.code) == 10 and set(cert.code) <= set(CODE_ALPHABET)
        assert not set(cert.code) & set("ILOU01")
        facts = json.loads(cert.facts)
        assert cert.facts == json.dumps(
            facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert facts["workshop"] == "Nairobi Robotics" and facts["issuer"] == ISSUER
        assert facts["first_date"] == "2026-12-01" and facts["last_date"] == "2026-12-02"
    assert json.loads(certificates["Ben Otieno"].facts)["hours"] == 6
    key = data_dir / SIGNING_KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    assert "1 certificate issued" not in _issue_from_page(organiser)
    assert "No certificate issued: 2 already had one" in _issue_from_page(organiser)
    assert _certificates(app).keys() == certificates.keys()


def test_issuing_without_an_issuer_says_what_to_do(app, organiser):
    make_workshop(app)
    _sessions(app, "nairobi", 1)
    (awa,) = add_people(app, "nairobi", "Awa Koné")
    with app.app_context():
        set_override(cli_actor(), db.session.get(Participant, awa), "guest of honour")
        db.session.commit()
    assert "Say who issues these certificates first" in _issue_from_page(organiser)
    assert _certificates(app) == {}


def test_a_certificate_whose_qr_code_could_not_be_printed_is_not_issued(app, organiser):
    make_workshop(app, title="Atelier de robotique " + "très " * 35 + "long")
    _sessions(app, "nairobi", 1)
    (awa,) = add_people(app, "nairobi", "Awa Koné Adébáyọ̀ Ọlápọ̀ Nguyễn Thị Hồng Nhung")
    with app.app_context():
        update_rule(cli_actor(), get_workshop("nairobi"), issuer="Association " + "ẹ" * 120)
        set_override(cli_actor(), db.session.get(Participant, awa), "guest of honour")
        db.session.commit()
    page = _issue_from_page(organiser)
    assert "would carry too much text for its QR code: shorten the workshop title" in page
    assert _certificates(app) == {}


# ------------------------------------------------------------------ verifying


def _verify_url(app: Flask, name: str) -> str:
    from kitmanager.certificates.printing import certificate_url

    with app.app_context():
        cert = db.session.scalars(select(Certificate).where(Certificate.revoked_at.is_(None))).all()
        (mine,) = [c for c in cert if json.loads(c.facts)["name"] == name]
        return certificate_url("http://kit.test", mine)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _verdict(client, url: str) -> str:
    page = client.get(_path(url)).get_data(as_text=True)
    return re.search(r'id="verdict"[^>]*>([^<]*)<', page).group(1).strip()


def _with_fact(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    facts = json.loads(b64url_decode(query["d"]))
    facts.update(changes)
    query["d"] = b64url_encode(
        json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


def test_the_verify_page_shows_the_facts_and_tampering_with_any_reads_not_valid(
    app, attended, organiser, client
):
    _issue_from_page(organiser)
    organiser.post("/logout", data={"csrf_token": csrf_token(organiser, "/workshops/")})
    url = _verify_url(app, "Awa Koné")
    page = client.get(_path(url)).get_data(as_text=True)
    assert "✓ Valid" in page
    for shown in ("Awa Koné", "Nairobi Robotics", ISSUER, "8"):
        assert shown in page
    facts = json.loads(b64url_decode(parse_qs(urlsplit(url).query)["d"][0]))
    changes = {
        "name": "Awa Kone",
        "workshop": "Nairobi Robotics Masterclass",
        "first_date": "2026-11-30",
        "last_date": "2026-12-03",
        "issued": "2025-01-01",
        "issuer": "Another Club",
        "hours": 80,
        "code": "ABCDEFGHJK",
        "status": facts["status"] + 1,
    }
    assert set(changes) == set(facts)
    for key, value in changes.items():
        assert _verdict(client, _with_fact(url, **{key: value})) == "✗ Not valid", key
    other_code = url.replace(f"/verify/{facts['code']}?", "/verify/ABCDEFGHJK?")
    assert _verdict(client, other_code) == "✗ Not valid"
    signature = parse_qs(urlsplit(url).query)["s"][0]
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert _verdict(client, url.replace(signature, flipped)) == "✗ Not valid"
    assert _verdict(client, url) == "✓ Valid"
    # the code alone, typed by hand, finds the record here
    assert _verdict(client, f"http://kit.test/verify/{facts['code']}") == "✓ Valid"
    typed = client.get(f"/verify/?code={facts['code'].lower()}")
    assert typed.status_code == 302 and typed.location.endswith(f"/verify/{facts['code']}")
    assert client.get("/verify/ABCDEFGHJK").status_code == 404


def test_a_deleted_persons_certificate_is_no_longer_looked_up_by_its_code_alone(
    app, attended, organiser, client
):
    from kitmanager.participants.services import delete_participant

    _issue_from_page(organiser)
    url = _verify_url(app, "Awa Koné")
    code = urlsplit(url).path.rsplit("/", 1)[1]
    with app.app_context():
        delete_participant(cli_actor(), db.session.get(Participant, attended["Awa Koné"]))
        db.session.commit()
    response = client.get(f"/verify/{code}")
    assert response.status_code == 404 and "Awa" not in response.get_data(as_text=True)
    assert _verdict(client, url) == "✓ Valid"  # what the holder's QR code carries still checks
    with app.app_context():
        record = db.session.scalars(select(Certificate).where(Certificate.code == code)).one()
        assert "Awa" not in record.facts  # the name is gone from this database
        revoke_certificate(cli_actor(), record.code, "Issued by mistake")
        db.session.commit()
    page = client.get(_path(url)).get_data(as_text=True)
    assert "✗ Revoked" in page and "Issued by mistake" in page  # a revocation still shows
    (page,) = read_pdf(organiser.get("/workshops/nairobi/certificates.pdf").data, dpi=72)
    assert "Ben Otieno" in page.flat_text and "Awa" not in page.flat_text


def test_revoked_and_reissued_certificates_read_revoked_with_date_and_reason(
    app, attended, organiser, client, runner
):
    _issue_from_page(organiser)
    awa_url = _verify_url(app, "Awa Koné")
    awa_code = urlsplit(awa_url).path.rsplit("/", 1)[1]
    result = runner.invoke(
        args=["certificates", "revoke", awa_code, "--reason", "Issued by mistake"]
    )
    assert result.exit_code == 0, result.output
    page = client.get(_path(awa_url)).get_data(as_text=True)
    assert "✗ Revoked" in page and "Issued by mistake" in page
    assert "Awa Koné" in page
    checked = runner.invoke(args=["verify", awa_url])
    assert checked.exit_code == 1
    assert "REVOKED on" in checked.output and "Issued by mistake" in checked.output
    result = runner.invoke(args=["certificates", "revoke", awa_code, "--reason", "again"])
    assert result.exit_code != 0 and "already revoked" in result.output

    # a name typo fixed -> re-issue: new code, the old one revoked
    from kitmanager.participants.services import fields_of, update_participant

    with app.app_context():
        ben = db.session.get(Participant, attended["Ben Otieno"])
        fields = fields_of(ben)
        fields.full_name = "Benjamin Otieno"
        update_participant(cli_actor(), ben, fields)
        db.session.commit()
    old_url = _verify_url(app, "Ben Otieno")
    old_code = urlsplit(old_url).path.rsplit("/", 1)[1]
    url = "/workshops/nairobi/certificates"
    response = organiser.post(
        f"/certificates/{old_code}/reissue",
        data={"csrf_token": csrf_token(organiser, url), "reason": "Name corrected"},
        follow_redirects=True,
    )
    assert f"Certificate {old_code} revoked and replaced by" in response.get_data(as_text=True)
    new_url = _verify_url(app, "Benjamin Otieno")
    assert urlsplit(new_url).path != urlsplit(old_url).path
    assert _verdict(client, new_url) == "✓ Valid"
    old_page = client.get(_path(old_url)).get_data(as_text=True)
    assert "✗ Revoked" in old_page and "Name corrected" in old_page
    with app.app_context():
        old = db.session.scalars(select(Certificate).where(Certificate.code == old_code)).one()
        assert old.replaced_by_id is not None
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "certificate")
        ).all()
        assert actions.count("certificate.revoked") == 2
        assert actions.count("certificate.issued") == 3


def test_the_verify_page_is_rate_limited_per_address_and_says_when_to_retry(data_dir, attended):
    from kitmanager import create_app

    limited = create_app({"DATA_DIR": data_dir, "TESTING": True, "VERIFY_RATE_LIMIT": (3, 60)})
    client = limited.test_client()
    for _ in range(3):
        assert client.get("/verify/ABCDEFGHJK").status_code == 404
    response = client.get("/verify/ABCDEFGHJK")
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60
    assert f"Try again in {wait} seconds" in response.get_data(as_text=True)
    other = client.get("/verify/ABCDEFGHJK", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 404  # another address is not held back


# ------------------------------------------------------------------ paper


def test_the_workshop_pdf_qr_codes_open_verify_urls_the_app_accepts(
    app, attended, organiser, client
):
    _issue_from_page(organiser)
    response = organiser.get("/workshops/nairobi/certificates.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = read_pdf(response.data, dpi=150)
    assert len(pages) == 2
    names = []
    for page in pages:
        (code,) = page.codes
        assert code.text.startswith("http://kit.test/verify/")
        assert _verdict(client, code.text) == "✓ Valid"
        assert "Certificate of participation" in page.flat_text
        assert "Check it at http://kit.test/verify" in page.flat_text
        names.append(next(n for n in ("Awa Koné", "Ben Otieno") if n in page.flat_text))
    assert names == ["Awa Koné", "Ben Otieno"]


def _png(size=(200, 80), colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def test_a_french_workshop_prints_in_french_with_the_organisers_logo_and_signature(app, organiser):
    _setup(app, slug="abidjan", language="fr")
    _sessions(app, "abidjan", 1)
    (awa,) = add_people(app, "abidjan", "Awa Koné")
    url = "/workshops/abidjan/certificates"
    token = csrf_token(organiser, url)
    form = {
        "csrf_token": token,
        "basis": "sessions",
        "min_percent": "75",
        "issuer": "Club Robotique d'Abidjan",
        "signatory_name": "Koffi N'Guessan",
        "signatory_title": "Directeur",
        "layout": "certificate-a4",
    }
    too_big = organiser.post(
        url,
        data={**form, "logo": (io.BytesIO(b"\x89PNG" + b"0" * (3 * 1024 * 1024)), "big.png")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "larger than 2 MB" in too_big.get_data(as_text=True)
    not_image = organiser.post(
        url,
        data={**form, "logo": (io.BytesIO(b"%PDF-1.4 not an image"), "logo.png")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Upload a PNG or JPEG image" in not_image.get_data(as_text=True)
    saved = organiser.post(
        url,
        data={
            **form,
            "logo": (io.BytesIO(_png()), "logo.png"),
            "signature": (io.BytesIO(_png((300, 100), (20, 20, 120))), "signature.png"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Certificate settings saved." in saved.get_data(as_text=True)
    images = Path(app.config["DATA_DIR"]) / "certificate_images"
    with app.app_context():
        rule = rule_for(get_workshop("abidjan"))
        for name in (rule.logo_file, rule.signature_file):
            assert (images / name).stat().st_mode & 0o777 == 0o600
    # the refused uploads left nothing behind; a replaced logo goes
    assert sorted(p.name for p in images.iterdir()) == sorted([rule.logo_file, rule.signature_file])
    organiser.post(
        url,
        data={**form, "logo": (io.BytesIO(_png()), "logo.png")},
        content_type="multipart/form-data",
    )
    with app.app_context():
        rule = rule_for(get_workshop("abidjan"))
    assert sorted(p.name for p in images.iterdir()) == sorted([rule.logo_file, rule.signature_file])
    half = organiser.post(  # a good logo with a bad signature: neither is kept
        url,
        data={
            **form,
            "logo": (io.BytesIO(_png()), "logo.png"),
            "signature": (io.BytesIO(b"not an image"), "signature.png"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Upload a PNG or JPEG image" in half.get_data(as_text=True)
    assert sorted(p.name for p in images.iterdir()) == sorted([rule.logo_file, rule.signature_file])
    with app.app_context():
        set_override(cli_actor(), db.session.get(Participant, awa), "invitée d'honneur")
        issue_certificates(cli_actor(), get_workshop("abidjan"))
        db.session.commit()
    pdf = organiser.get(f"/workshops/abidjan/certificates/{awa}.pdf")
    assert pdf.status_code == 200
    assert "Awa" in pdf.headers["Content-Disposition"]
    (page,) = read_pdf(pdf.data, dpi=100)
    text = page.flat_text
    assert "Attestation de participation" in text and "a participé à l'atelier" in text
    assert "Délivrée par Club Robotique d'Abidjan le" in text
    assert "déc" in text and "2026" in text
    assert "Koffi N'Guessan" in text and "Directeur" in text
    assert "Certificate of participation" not in text
    r, g, b = page.pixel(123.5 + 25, 16 + 11)  # the logo's box on the A4 layout
    assert r > 150 and g < 80 and b < 80


def test_the_zip_holds_one_pdf_per_person_named_after_them(app, attended, organiser):
    _issue_from_page(organiser)
    response = organiser.get("/workshops/nairobi/certificates.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert sorted(archive.namelist()) == ["Awa Koné.pdf", "Ben Otieno.pdf"]
        (page,) = read_pdf(archive.read("Awa Koné.pdf"), dpi=100)
        assert "Awa Koné" in page.flat_text and len(page.codes) == 1


# ------------------------------------------------------------------ the holder's own page


def test_the_badge_page_offers_the_holders_certificate_and_open_badge(
    app, attended, organiser, client
):
    with app.app_context():
        awa = db.session.get(Participant, attended["Awa Koné"])
        token = awa.badge_token
    before = client.get(f"/b/{token}").get_data(as_text=True)
    assert "certificate.pdf" not in before
    _issue_from_page(organiser)
    organiser.post("/logout", data={"csrf_token": csrf_token(organiser, "/workshops/")})
    page = client.get(f"/b/{token}").get_data(as_text=True)
    assert f"/b/{token}/certificate.pdf" in page and f"/b/{token}/certificate.jwt" in page
    pdf = client.get(f"/b/{token}/certificate.pdf")
    assert pdf.status_code == 200
    (view,) = read_pdf(pdf.data, dpi=150)
    assert "Awa Koné" in view.flat_text
    assert _verdict(client, view.codes[0].text) == "✓ Valid"
    assert client.get(f"/b/{token}/certificate.jwt").status_code == 200
    with app.app_context():
        chi = db.session.get(Participant, attended["Chi Eze"]).badge_token
    assert client.get(f"/b/{chi}/certificate.pdf").status_code == 404
    assert client.get("/b/not-a-token/certificate.pdf").status_code == 404


# ------------------------------------------------------------------ Open Badges 3.0


def test_the_open_badge_has_every_required_field_and_verifies_with_joserfc(
    app, attended, organiser
):
    from joserfc import jws
    from joserfc.errors import BadSignatureError
    from joserfc.jwk import OKPKey

    _issue_from_page(organiser)
    response = organiser.get(f"/workshops/nairobi/certificates/{attended['Awa Koné']}.jwt")
    assert response.status_code == 200
    token = response.data.decode("ascii")
    pem = organiser.get("/certificates/public-key.pem")
    assert pem.data.startswith(b"-----BEGIN PUBLIC KEY-----")
    key = OKPKey.import_key(pem.data)
    result = jws.deserialize_compact(token, key, algorithms=["EdDSA"])
    assert result.headers()["alg"] == "EdDSA"
    vc = json.loads(result.payload)
    with pytest.raises(BadSignatureError):
        head, body, sig = token.split(".")
        forged = json.loads(b64url_decode(body))
        forged["credentialSubject"]["identifier"][0]["identityHash"] = "Someone Else"
        forged_body = b64url_encode(json.dumps(forged).encode())
        jws.deserialize_compact(f"{head}.{forged_body}.{sig}", key, algorithms=["EdDSA"])

    # OB 3.0 AchievementCredential / OpenBadgeCredential: required properties
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert vc["@context"][1].startswith("https://purl.imsglobal.org/spec/ob/v3p0/context-3.0")
    assert vc["type"][0] == "VerifiableCredential" and "OpenBadgeCredential" in vc["type"]
    assert vc["id"].startswith("urn:uuid:")
    assert vc["name"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", vc["validFrom"])
    issuer = vc["issuer"]
    assert issuer["id"].startswith("did:key:z6Mk") and "Profile" in issuer["type"]
    assert issuer["name"] == ISSUER
    subject = vc["credentialSubject"]
    assert "AchievementSubject" in subject["type"]
    assert subject["identifier"][0]["identityHash"] == "Awa Koné"
    achievement = subject["achievement"]
    assert achievement["id"].startswith("urn:uuid:") and "Achievement" in achievement["type"]
    assert achievement["name"] == "Nairobi Robotics"
    assert achievement["description"] and achievement["criteria"]["narrative"]
    # its status: a place in this installation's revocation list (Bitstring Status List)
    status = vc["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    assert status["statusListIndex"].isdigit()
    list_url = f"http://kit.test/credentials/status/{issuer['id'].removeprefix('did:key:')}"
    assert status["statusListCredential"] == list_url
    assert status["id"] == f"{list_url}#{status['statusListIndex']}"
    # VC-JWT registered claims
    assert vc["iss"] == issuer["id"] and vc["jti"] == vc["id"]
    assert vc["nbf"] == int(
        datetime.fromisoformat(vc["validFrom"].replace("Z", "+00:00")).timestamp()
    )
    # the did:key names the same public key as the exported PEM
    assert result.headers()["kid"].startswith(issuer["id"] + "#")
    assert OKPKey.import_key(result.headers()["jwk"]).as_dict()["x"] == key.as_dict()["x"]


# ------------------------------------------------------------------ CLI


def test_cli_issues_prints_and_verifies_and_a_fresh_install_checks_with_the_public_key(
    app, attended, runner, tmp_path
):
    result = runner.invoke(args=["certificates", "issue", "nairobi"])
    assert result.exit_code == 0, result.output
    assert "2 issued, 0 already had one, 2 not eligible yet." in result.output
    assert "not eligible: Chi Eze (attended 2 of 4 sessions)" in result.output
    pdf_file = tmp_path / "all.pdf"
    result = runner.invoke(args=["certificates", "pdf", "nairobi", "-o", str(pdf_file)])
    assert result.exit_code == 0, result.output
    zip_file = tmp_path / "all.zip"
    result = runner.invoke(args=["certificates", "pdf", "nairobi", "--zip", "-o", str(zip_file)])
    assert result.exit_code == 0, result.output
    assert len(zipfile.ZipFile(zip_file).namelist()) == 2
    pages = read_pdf(pdf_file.read_bytes(), dpi=150)
    urls = [page.codes[0].text for page in pages]
    key_file = tmp_path / "issuer.pem"
    result = runner.invoke(args=["certificates", "public-key", "-o", str(key_file)])
    assert result.exit_code == 0, result.output
    code = urlsplit(urls[0]).path.rsplit("/", 1)[1]
    local = runner.invoke(args=["verify", code])
    assert local.exit_code == 0 and "VALID" in local.output, local.output
    short = runner.invoke(args=["verify", f"http://kit.test/verify/{code}"])
    assert short.exit_code == 0 and "Awa Koné" in short.output, short.output

    # another laptop: an empty data folder, only the published public key
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    env = {"KITMANAGER_DATA_DIR": str(fresh), "PATH": "/usr/bin:/bin"}

    def verify(url: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(kitmanager_exe()), "verify", url, "--public-key", str(key_file)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = verify(urls[0])
    assert done.returncode == 0, done.stderr
    assert "VALID" in done.stdout and "Awa Koné" in done.stdout
    assert not (fresh / SIGNING_KEY_FILE).exists()  # nothing signed there
    tampered = verify(_with_fact(urls[0], name="Awa Kone"))
    assert tampered.returncode == 1 and "NOT VALID" in tampered.stdout
    # a key of another installation does not vouch for these
    other_key = tmp_path / "other.pem"
    subprocess.run(
        [str(kitmanager_exe()), "certificates", "public-key", "-o", str(other_key)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert verify(urls[0]).returncode == 0
    wrong = subprocess.run(
        [str(kitmanager_exe()), "verify", urls[0], "--public-key", str(other_key)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 1 and "NOT VALID" in wrong.stdout

    # the permanent site trusts the laptop's public key: its page and CLI accept the QR codes
    unknown = subprocess.run(
        [str(kitmanager_exe()), "verify", urls[0]], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert unknown.returncode == 1
    trusted = subprocess.run(
        [str(kitmanager_exe()), "certificates", "trust", str(key_file)], env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert trusted.returncode == 0 and "now verify here" in trusted.stdout, trusted.stderr
    known = subprocess.run(
        [str(kitmanager_exe()), "verify", urls[0]], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert known.returncode == 0 and "VALID" in known.stdout, known.stdout + known.stderr
    from kitmanager import create_app

    site = create_app({"DATA_DIR": fresh, "TESTING": True}).test_client()
    assert _verdict(site, urls[0]) == "✓ Valid"
    assert _verdict(site, _with_fact(urls[0], name="Awa Kone")) == "✗ Not valid"


def test_cli_errors_say_what_to_do(app, runner):
    make_workshop(app)
    result = runner.invoke(args=["certificates", "issue", "nairobi"])
    assert result.exit_code != 0 and "Say who issues these certificates first" in result.output
    result = runner.invoke(args=["certificates", "revoke", "ABCDEFGHJK", "--reason", "x"])
    assert result.exit_code != 0 and "No certificate has the code" in result.output
    result = runner.invoke(args=["verify", "nonsense"])
    assert result.exit_code != 0 and "neither a verify URL nor a certificate code" in result.output


def test_the_certificate_address_setting_goes_into_new_qr_codes(app, attended, organiser):
    url = "/certificates/address"
    assert "http://kit.test" in organiser.get(url).get_data(as_text=True)  # the badge address
    token = csrf_token(organiser, url)
    refused = organiser.post(url, data={"csrf_token": token, "base_url": "certificates"})
    assert "is not a web address" in refused.get_data(as_text=True)
    saved = organiser.post(
        url,
        data={"csrf_token": token, "base_url": "https://certificates.example.org/"},
        follow_redirects=True,
    )
    assert "Certificate address saved." in saved.get_data(as_text=True)
    _issue_from_page(organiser)
    pages = read_pdf(organiser.get("/workshops/nairobi/certificates.pdf").data, dpi=150)
    assert all(
        p.codes[0].text.startswith("https://certificates.example.org/verify/") for p in pages
    )
    assert "Check it at https://certificates.example.org/verify" in pages[0].flat_text
    organiser.post(url, data={"csrf_token": token, "base_url": ""})
    pages = read_pdf(organiser.get("/workshops/nairobi/certificates.pdf").data, dpi=150)
    assert pages[0].codes[0].text.startswith("http://kit.test/verify/")
    with app.app_context():
        changes = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "setting.changed")
        ).all()
        assert [e.details["new"] for e in changes] == ["https://certificates.example.org", ""]


@pytest.mark.parametrize(
    ("language", "starts", "ends", "printed"),
    [
        ("fr", "2026-12-01", "2026-12-03", "1–3 décembre 2026"),
        ("fr", "2026-11-29", "2026-12-03", "29 novembre – 3 décembre 2026"),
        ("en", "2026-12-01", "2026-12-03", "December 1 – 3, 2026"),
        ("en", "2026-12-01", "2026-12-01", "December 1, 2026"),
    ],
)
def test_the_printed_dates_spell_the_month_out_like_the_issue_date(
    app, organiser, language, starts, ends, printed
):
    from datetime import date

    make_workshop(
        app,
        slug="dates",
        language=language,
        starts_on=date.fromisoformat(starts),
        ends_on=date.fromisoformat(ends),
    )
    with app.app_context():
        update_rule(cli_actor(), get_workshop("dates"), issuer=ISSUER)
        db.session.commit()
    (awa,) = add_people(app, "dates", "Awa Koné")
    with app.app_context():
        set_override(cli_actor(), db.session.get(Participant, awa), "guest")
        issue_certificates(cli_actor(), get_workshop("dates"))
        db.session.commit()
    (page,) = read_pdf(organiser.get(f"/workshops/dates/certificates/{awa}.pdf").data, dpi=100)
    text = " ".join(page.flat_text.replace("\u2009", " ").split())
    assert printed in text


def test_the_french_page_reads_naturally_with_french_numbers_and_plain_names(app, organiser):
    _setup(app, slug="abidjan", language="fr")
    sessions = _sessions(app, "abidjan", 3, hours=1.5)
    awa, ben = add_people(app, "abidjan", "Awa Koné", "Ben Otieno")
    _attend(app, awa, sessions[:1])
    url = "/workshops/abidjan/certificates"
    organiser.post(
        f"{url}/override/{ben}",
        data={"csrf_token": csrf_token(organiser, url), "reason": "invité"},
    )
    page = organiser.get(url, headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "séances suivies : 1 sur 3 · 1,5 h" in page
    assert "séances suivies : 0 sur 3 · 0 h" in page
    assert "Admissible, décision prise par olga : invité" in page
    assert "user:" not in page
    with app.app_context():
        update_rule(cli_actor(), get_workshop("abidjan"), min_hours=2.5)
        db.session.commit()
    page = organiser.get(url, headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "au moins 2,5 heures" in page
    assert "1,5 des 2,5 heures" in page


def test_a_name_the_certificate_cannot_print_is_pointed_out_before_issuing(app, organiser):
    _setup(app)
    _sessions(app, "nairobi", 1)
    zoe, fatima, awa = add_people(
        app, "nairobi", "Zoé 🤖 Ñúñez", "فاطمة الزهراء", "Andriamanantenasoa Rakotondrazafindrabe"
    )
    page = organiser.get("/workshops/nairobi/certificates").get_data(as_text=True)
    assert page.count("would show an empty box") == 1
    warning = page[page.index("The certificate cannot print") :]
    assert warning.startswith("The certificate cannot print 🤖:")
    assert f'href="/workshops/nairobi/participants/{zoe}"' in warning[:400]
    # what the page says is what printing finds: the PDF warns about the same character
    with app.app_context():
        for pid in (zoe, fatima, awa):
            set_override(cli_actor(), db.session.get(Participant, pid), "guest")
        issue_certificates(cli_actor(), get_workshop("nairobi"))
        db.session.commit()
        from kitmanager.certificates.printing import certificates_pdf
        from kitmanager.certificates.services import valid_certificates

        workshop = get_workshop("nairobi")
        warnings = certificates_pdf(
            workshop, valid_certificates(workshop), "http://kit.test"
        ).warnings
    assert len(warnings) == 1 and "U+1F916" in warnings[0]


def test_verify_without_a_key_on_another_machine_says_to_give_the_issuers_key(
    app, runner, data_dir
):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from kitmanager.certificates.verification import canonical_facts, verify_url

    laptop = Ed25519PrivateKey.generate()
    facts = canonical_facts(
        {
            "code": "7KQ2M9XHTR",
            "name": "Awa Koné",
            "workshop": "Défi IA",
            "first_date": "2026-12-01",
            "last_date": "2026-12-03",
            "issued": "2026-12-03",
            "issuer": ISSUER,
        }
    )
    url = verify_url("https://example.org", "7KQ2M9XHTR", facts, laptop.sign(facts))
    result = runner.invoke(args=["verify", url])
    assert result.exit_code == 1
    assert "--public-key FILE" in result.output and "NOT VALID" not in result.output
    assert not (data_dir / SIGNING_KEY_FILE).exists()  # checking made no key of its own
    # an installation that issues (so has its own key) says what it checked with
    with app.app_context():
        from kitmanager.signing import installation_key

        installation_key()
    result = runner.invoke(args=["verify", url])
    assert result.exit_code == 1 and "NOT VALID" in result.output
    assert "needs its public key: --public-key FILE" in result.output


@pytest.mark.parametrize("size", [(7000, 4000), (20000, 20000)])
def test_a_small_file_holding_a_huge_picture_is_refused_saying_so(app, organiser, size):
    _setup(app)
    out = io.BytesIO()
    Image.new("1", size).save(out, format="PNG")  # a few kilobytes
    assert len(out.getvalue()) < 200_000
    url = "/workshops/nairobi/certificates"
    page = organiser.post(
        url,
        data={
            "csrf_token": csrf_token(organiser, url),
            "basis": "sessions",
            "min_percent": "75",
            "issuer": ISSUER,
            "layout": "certificate-a4",
            "logo": (io.BytesIO(out.getvalue()), "logo.png"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "This image has too many pixels to print" in page
    assert not (Path(app.config["DATA_DIR"]) / "certificate_images").exists() or not any(
        (Path(app.config["DATA_DIR"]) / "certificate_images").iterdir()
    )
    with app.app_context():
        assert rule_for(get_workshop("nairobi")).logo_file is None


def test_cli_issue_takes_the_issuer_a_new_workshop_lacks(app, runner):
    make_workshop(app)
    _sessions(app, "nairobi", 1)
    (awa,) = add_people(app, "nairobi", "Awa Koné")
    with app.app_context():
        set_override(cli_actor(), db.session.get(Participant, awa), "guest")
        db.session.commit()
    refused = runner.invoke(args=["certificates", "issue", "nairobi"])
    assert refused.exit_code == 1 and '--issuer "Your organisation"' in refused.output
    done = runner.invoke(args=["certificates", "issue", "nairobi", "--issuer", " Club  Robotique "])
    assert done.exit_code == 0, done.output
    assert "Awa Koné" in done.output and "1 issued" in done.output
    with app.app_context():
        assert rule_for(get_workshop("nairobi")).issuer == "Club Robotique"
        (certificate,) = db.session.scalars(select(Certificate)).all()
        assert json.loads(certificate.facts)["issuer"] == "Club Robotique"
    again = runner.invoke(args=["certificates", "issue", "nairobi"])
    assert again.exit_code == 0 and "1 already had one" in again.output


def test_a_french_open_badge_reads_in_french_with_its_dates_written_out(app, organiser):
    _setup(app, slug="abidjan", language="fr", min_hours=2.5)
    (awa,) = add_people(app, "abidjan", "Awa Koné")
    with app.app_context():
        set_override(cli_actor(), db.session.get(Participant, awa), "invitée")
        (certificate,) = issue_certificates(cli_actor(), get_workshop("abidjan")).issued
        code = certificate.code
        db.session.commit()
    token = organiser.get(f"/workshops/abidjan/certificates/{awa}.jwt").data.decode("ascii")
    vc = json.loads(b64url_decode(token.split(".")[1]))
    described = "A participé à l'atelier Nairobi Robotics, 1–2 décembre 2026."
    assert vc["description"] == described
    assert vc["credentialSubject"]["achievement"]["description"] == described
    assert vc["credentialSubject"]["achievement"]["criteria"]["narrative"] == (
        "A suivi au moins 2,5 heures de l'atelier."
    )
    assert vc["evidence"][0]["name"] == f"Attestation {code}"


def test_the_verify_page_writes_dates_and_hours_as_the_reader_does(app, organiser, client):
    _setup(app, slug="abidjan", language="fr")
    sessions = _sessions(app, "abidjan", 1, hours=1.5)
    (awa,) = add_people(app, "abidjan", "Awa Koné")
    _attend(app, awa, sessions)
    with app.app_context():
        issue_certificates(cli_actor(), get_workshop("abidjan"))
        db.session.commit()
    url = _verify_url(app, "Awa Koné")
    page = client.get(_path(url), headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "<dt>Heures suivies</dt><dd>1,5</dd>" in page
    assert "<dt>Dates</dt><dd>1–2 décembre 2026</dd>" in page  # as the certificate prints them
    english = client.get(_path(url), headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<dt>Dates</dt><dd>December 1\u2009–\u20092, 2026</dd>" in english
    # a tampered fact that is no number is shown as claimed, under "not valid"
    forged = client.get(_path(_with_fact(url, hours="beaucoup")), headers={"Accept-Language": "fr"})
    assert forged.status_code == 200 and "<dd>beaucoup</dd>" in forged.get_data(as_text=True)


def test_a_workshop_without_sessions_says_so_once_and_issuing_nothing_is_no_success(app, organiser):
    _setup(app)
    add_people(app, "nairobi", "Awa Koné")
    url = "/workshops/nairobi/certificates"
    page = organiser.get(url).get_data(as_text=True)
    assert "<small>the workshop has no sessions yet</small>" in page
    assert "attended 0 of 0" not in page
    done = organiser.post(
        f"{url}/issue", data={"csrf_token": csrf_token(organiser, url)}, follow_redirects=True
    ).get_data(as_text=True)
    assert "flash-warning" in done and "flash-success" not in done
    assert "No certificate issued: 0 already had one; 1 not eligible yet" in done


def test_once_issued_the_page_says_a_new_issuer_name_needs_a_reissue(app, attended, organiser):
    keep = "Certificates already issued keep the name they were signed with"
    assert keep not in organiser.get("/workshops/nairobi/certificates").get_data(as_text=True)
    _issue_from_page(organiser)
    assert keep in organiser.get("/workshops/nairobi/certificates").get_data(as_text=True)
