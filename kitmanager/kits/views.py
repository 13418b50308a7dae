"""Kit pages: kit types and their bill of materials, the kits list, a kit's record and history,
the lists a trainer keeps an eye on, and ``/k/<token>`` behind a kit's label QR (hand out,
take back with the checklist)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.kits import bp
from kitmanager.kits.forms import (
    BLANK_LINES,
    AddKitForm,
    AddKitsForm,
    KitForm,
    KitTypeForm,
)
from kitmanager.kits.services import (
    BoardRecord,
    KitError,
    KitNotOut,
    KitUnavailable,
    NeedsConfirmation,
    attention_reasons,
    create_kit,
    create_kit_type,
    create_kits,
    delete_kit_type,
    find_participants,
    forget_scan,
    hand_out,
    highest_kit_number,
    incident_text,
    kit_by_token,
    kit_history,
    kits_needing_attention,
    kits_out,
    list_kits,
    open_incidents,
    overdue_handouts,
    phone_station,
    remember_scan,
    resolve_incident,
    restock_list,
    return_kit,
    scan_partner,
    set_condition,
    update_kit,
    update_kit_type,
)
from kitmanager.models import (
    Kit,
    KitCondition,
    KitHandout,
    KitIncident,
    KitStatus,
    KitType,
    Participant,
    Role,
    Workshop,
    utcnow,
)
from kitmanager.scans import kit_label_route
from kitmanager.security import current_actor, public, require_role
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import page_unit_of_work, row_id, small_count
from kitmanager.workshops.services import local_timezone_name, utc_to_local

# A kit whose page offers a handout (a kit out is taken back; a retired one stays home).
_CAN_GO_OUT = (KitStatus.READY, KitStatus.NEEDS_ATTENTION)


@bp.app_template_global()
def kit_time(value: datetime | None, workshop: Workshop | None = None) -> str:
    """A stored UTC time as the wall clock of ``workshop``, or of this laptop when the time
    belongs to no workshop; empty for no time."""
    if value is None:
        return ""
    zone = workshop.timezone if workshop is not None else local_timezone_name()
    return format_datetime(utc_to_local(value, zone), "EEE d MMM HH:mm", rebase=False)


@bp.app_template_global()
def kit_due(handout: KitHandout) -> str:
    """When ``handout`` is due back, in its workshop's time zone; empty when it has no due
    time."""
    return kit_time(handout.due_at, handout.workshop)


def _kit(kit_id: int) -> Kit:
    kit = db.session.get(Kit, kit_id)
    if kit is None:
        abort(404)
    return kit


def _kit_type(type_id: int) -> KitType:
    kit_type = db.session.get(KitType, type_id)
    if kit_type is None:
        abort(404)
    return kit_type


def _all_types() -> list[KitType]:
    return list(db.session.scalars(select(KitType).order_by(KitType.name)))


def _with_type_choices(form, types: list[KitType]):
    form.kit_type.choices = [(kit_type.id, kit_type.name) for kit_type in types]
    return form


# ---- kit types --------------------------------------------------------------------------


@bp.route("/kits/types/")
@require_role(Role.TRAINER)
def types():
    """Every kit type with its bill of materials."""
    return render_template("kits/types.html", types=_all_types())


@bp.route("/kits/types/new", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def type_new():
    return _type_form(None)


@bp.route("/kits/types/<int:type_id>", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def type_edit(type_id: int):
    return _type_form(_kit_type(type_id))


def _type_form(kit_type: KitType | None):
    """Create or edit a kit type; "More lines" adds blank lines without saving."""
    if request.method == "GET":
        data = None
        if kit_type is not None:
            data = {
                "name": kit_type.name,
                "description": kit_type.description,
                "components": [
                    {"name": c.name, "quantity": c.quantity, "must_return": c.must_return}
                    for c in kit_type.components
                ],
            }
        form = KitTypeForm(data=data) if data else KitTypeForm(formdata=None)
        if not form.components.entries or form.components.entries[-1].form.name.data:
            form.add_blank_lines()
        elif kit_type is None:
            form.add_blank_lines(BLANK_LINES - 1)
        return render_template("kits/type_form.html", form=form, kit_type=kit_type)
    form = KitTypeForm()
    if request.form.get("more"):
        form.add_blank_lines()
        return render_template("kits/type_form.html", form=form, kit_type=kit_type)
    if form.validate():
        try:
            with unit_of_work():
                if kit_type is None:
                    kit_type = create_kit_type(
                        current_actor(), form.name.data, form.lines(), form.description.data or ""
                    )
                else:
                    update_kit_type(
                        current_actor(),
                        kit_type,
                        form.name.data,
                        form.lines(),
                        form.description.data or "",
                    )
        except KitError as exc:
            form.name.errors = [*form.name.errors, str(exc)]
        else:
            flash(_("Kit type “%(name)s” saved.", name=kit_type.name), "success")
            return redirect(url_for("kits.types"))
    return render_template("kits/type_form.html", form=form, kit_type=kit_type), 400


@bp.post("/kits/types/<int:type_id>/delete")
@require_role(Role.TRAINER)
def type_delete(type_id: int):
    """Delete a kit type no kit uses (one made by mistake)."""
    kit_type = _kit_type(type_id)
    name = kit_type.name
    with page_unit_of_work() as work:
        delete_kit_type(current_actor(), kit_type)
    if not work.committed:
        return redirect(url_for("kits.type_edit", type_id=type_id))
    flash(_("Kit type “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("kits.types"))


# ---- kits --------------------------------------------------------------------------------


@bp.route("/kits/")
@require_role(Role.TRAINER)
def index():
    """The kits list, filtered by status and type; forms to add kits."""
    status = request.args.get("status", "")
    status_enum = KitStatus(status) if status in {s.value for s in KitStatus} else None
    type_arg = request.args.get("type", "")
    type_id = row_id(type_arg)
    types = _all_types()
    return render_template(
        "kits/list.html",
        kits=list_kits(status=status_enum, kit_type_id=type_id),
        types=types,
        status=status_enum.value if status_enum else "",
        type_id=type_id,
        statuses=list(KitStatus),
        add_many=_with_type_choices(
            AddKitsForm(formdata=None, count=10, after=highest_kit_number(), prefix="many"), types
        ),
        add_one=_with_type_choices(AddKitForm(formdata=None, prefix="one"), types),
    )


@bp.post("/kits/add")
@require_role(Role.TRAINER)
def add_many():
    """ "Add N kits of this type", numbered on from the highest code."""
    form = _with_type_choices(AddKitsForm(prefix="many"), _all_types())
    if not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("kits.index"))
    with page_unit_of_work() as work:
        kits = create_kits(
            current_actor(),
            _kit_type(form.kit_type.data),
            form.count.data,
            after=int(form.after.data) if form.after.data else None,
        )
    if not work.committed:
        return redirect(url_for("kits.index"))
    flash(
        _(
            "%(count)s kits added: %(first)s to %(last)s.",
            count=len(kits),
            first=kits[0].code,
            last=kits[-1].code,
        ),
        "success",
    )
    return redirect(url_for("kits.index", type=form.kit_type.data))


@bp.post("/kits/add-one")
@require_role(Role.TRAINER)
def add_one():
    """One kit with the code printed on its box."""
    form = _with_type_choices(AddKitForm(prefix="one"), _all_types())
    if not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("kits.index"))
    with page_unit_of_work() as work:
        kit = create_kit(current_actor(), _kit_type(form.kit_type.data), form.code.data)
    if not work.committed:
        return redirect(url_for("kits.index"))
    flash(_("%(code)s added.", code=kit.code), "success")
    return redirect(url_for("kits.detail", kit_id=kit.id))


@bp.route("/kits/<int:kit_id>", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def detail(kit_id: int):
    """A kit's record (notes, board by hand), its condition, open incidents and history."""
    kit = _kit(kit_id)
    form = KitForm(obj=kit)
    status = 200
    if request.method == "POST":
        if form.validate():
            record = BoardRecord(
                **{name: form[name].data or "" for name in BoardRecord.__dataclass_fields__}
            )
            with page_unit_of_work() as work:
                update_kit(current_actor(), kit, record)
            if work.committed:
                flash(_("%(code)s saved.", code=kit.code), "success")
                return redirect(url_for("kits.detail", kit_id=kit.id))
        status = 400
    incidents = open_incidents(kit)
    history = kit_history(kit)
    # Times show on the clock of the workshop the kit last went out in.
    workshop = next(
        (
            entry.details["handout"].workshop
            for entry in history
            if entry.details.get("handout") is not None
        ),
        None,
    )
    return (
        render_template(
            "kits/detail.html",
            kit=kit,
            form=form,
            incidents=incidents,
            reasons=attention_reasons(kit, incidents),
            history=history,
            workshop=workshop,
            conditions=list(KitCondition),
            incident_text=incident_text,
        ),
        status,
    )


@bp.post("/kits/<int:kit_id>/condition")
@require_role(Role.TRAINER)
def condition(kit_id: int):
    """Retire a kit, mark it "needs attention" or ready again, with a note."""
    kit = _kit(kit_id)
    chosen = request.form.get("condition", "")
    if chosen not in {c.value for c in KitCondition}:
        abort(400)
    with page_unit_of_work() as work:
        set_condition(
            current_actor(), kit, KitCondition(chosen), (request.form.get("note") or "")[:500]
        )
    if work.committed:
        flash(
            _("%(code)s status: %(status)s.", code=kit.code, status=kit.status.label),
            "success",
        )
    return redirect(url_for("kits.detail", kit_id=kit.id))


@bp.post("/kits/incidents/<int:incident_id>/resolve")
@require_role(Role.TRAINER)
def incident_resolve(incident_id: int):
    """Close an incident: the parts came back or were replaced."""
    incident = db.session.get(KitIncident, incident_id)
    if incident is None:
        abort(404)
    with unit_of_work():
        resolve_incident(current_actor(), incident, (request.form.get("note") or "")[:500])
    kit = incident.kit
    flash(
        _(
            "Incident on %(code)s resolved; kit status: %(status)s.",
            code=kit.code,
            status=kit.status.label,
        ),
        "success",
    )
    back = request.form.get("back")
    if back == "attention":
        return redirect(url_for("kits.attention"))
    return redirect(url_for("kits.detail", kit_id=kit.id))


# ---- lists ---------------------------------------------------------------------------------


@bp.route("/kits/out")
@require_role(Role.TRAINER)
def out_now():
    """Who holds which kit, due when; the overdue ones first."""
    now = utcnow()
    return render_template(
        "kits/out.html", overdue=overdue_handouts(now), handouts=kits_out(), now=now
    )


@bp.route("/kits/attention")
@require_role(Role.TRAINER)
def attention():
    """Kits that need attention, and why."""
    kits = kits_needing_attention()
    incidents: dict[int, list[KitIncident]] = {}
    for incident in open_incidents():
        incidents.setdefault(incident.kit_id, []).append(incident)
    return render_template(
        "kits/attention.html",
        rows=[
            (kit, attention_reasons(kit, incidents.get(kit.id, [])), incidents.get(kit.id, []))
            for kit in kits
        ],
        incident_text=incident_text,
    )


@bp.route("/kits/restock")
@require_role(Role.TRAINER)
def restock():
    """Components to find or buy, summed over open incidents."""
    return render_template("kits/restock.html", lines=restock_list())


# ---- the page behind a kit's label ----------------------------------------------------------


def _label_kit(token: str) -> Kit:
    kit = kit_by_token(token.rstrip("/"))
    if kit is None:
        abort(404)
    return kit


def _staff() -> bool:
    return current_user.is_authenticated and current_user.role_enum.allows(Role.VOLUNTEER)


def _station() -> str:
    """This account's phone as a pairing station; an API token pairs nothing here."""
    if getattr(current_user, "username", None) is None:
        return ""
    return phone_station(current_user.id)


def _participant(value: str | None) -> Participant:
    if row_id(value) is None:
        abort(400)
    participant = db.session.get(Participant, int(value))
    if participant is None or participant.deleted_at is not None:
        abort(404)
    return participant


# The longest pairing window a workshop may set; each badge is then held to its own.
LONGEST_PAIR_WINDOW = timedelta(seconds=Workshop.__table__.c.pair_window_seconds.info["max"])


def _pair_window(participant: Participant) -> timedelta:
    return timedelta(seconds=participant.workshop.pair_window_seconds)


@bp.route(kit_label_route())
@public
def label(token: str):
    """What a phone shows after scanning a kit's label.

    Without a login: the kit's code and type and a request to bring it back to a trainer,
    nothing about who holds it. With a volunteer login or higher: the kit's action page (take
    it back with its checklist, or hand it out to the badge scanned just before, or to someone
    found by name). A kit that can go out is remembered for a badge scanned next.
    """
    g.no_store = True
    kit = kit_by_token(token.rstrip("/"))
    if kit is None:
        return render_template("kits/label_unknown.html"), 404
    if not _staff():
        return render_template("kits/label_public.html", kit=kit)
    partner = None
    # Only the scan itself pairs: the page shown again after an action or a search does not.
    pairing = kit.status in _CAN_GO_OUT and bool(_station()) and not request.args
    if pairing:
        now = utcnow()
        partner_id = scan_partner(_station(), "badge", now, LONGEST_PAIR_WINDOW)
        if partner_id is not None:
            partner = db.session.get(Participant, partner_id)
            if partner is not None and (
                partner.deleted_at is not None
                or scan_partner(_station(), "badge", now, _pair_window(partner)) is None
            ):
                partner = None  # removed, or scanned longer ago than their workshop allows
        if partner is None:
            with unit_of_work():
                remember_scan(_station(), "kit", kit.id, now)
    search = (request.args.get("q") or "")[:100]
    return render_template(
        "kits/label.html",
        kit=kit,
        partner=partner,
        search=search,
        matches=find_participants(search) if search and kit.status in _CAN_GO_OUT else [],
        can_go_out=kit.status in _CAN_GO_OUT,
        pairing=pairing,
        reasons=attention_reasons(kit) if kit.status == KitStatus.NEEDS_ATTENTION else [],
    )


def _back(kit: Kit, participant: Participant | None = None):
    """Back to the page the action came from, marked ``done`` so that showing it again is not
    taken for a new scan to pair."""
    if participant is not None and request.form.get("back") == "badge":
        return redirect(url_for("public.badge", token=participant.badge_token, done=1))
    return redirect(url_for("kits.label", token=kit.label_token, done=1))


@bp.post(kit_label_route("/hand-out"))
@require_role(Role.VOLUNTEER)
def label_hand_out(token: str):
    """Hand the kit to a participant (or their team); asks for confirmation when the rules
    say a trainer should think twice, and says why."""
    kit = _label_kit(token)
    participant = _participant(request.form.get("participant"))
    to_team = request.form.get("to_team") == "1"
    try:
        with unit_of_work():
            handout = hand_out(
                current_actor(),
                kit,
                participant,
                to_team=to_team,
                station=_station(),
                confirmed=request.form.get("confirmed") == "1",
            )
            if _station():
                forget_scan(_station())
    except NeedsConfirmation as exc:
        return render_template(
            "kits/confirm.html",
            kit=kit,
            participant=participant,
            to_team=to_team,
            reasons=exc.reasons,
            back=request.form.get("back", ""),
        )
    except KitUnavailable as exc:
        held = kit.open_handout
        if held is not None and held.participant_id == participant.id:
            # A second tap on the same button: the kit is already theirs.
            flash(
                _("%(code)s is already with %(name)s.", code=kit.code, name=participant.full_name),
                "info",
            )
        else:
            flash(str(exc), "error")
        return _back(kit, participant)
    except KitError as exc:
        flash(str(exc), "error")
        return _back(kit, participant)
    holder = participant.team.name if to_team and participant.team else participant.full_name
    due = kit_due(handout)
    if due:
        message = _(
            "%(code)s handed to %(holder)s, due back %(due)s.",
            code=kit.code,
            holder=holder,
            due=due,
        )
    else:
        message = _("%(code)s handed to %(holder)s.", code=kit.code, holder=holder)
    flash(message, "success")
    return _back(kit, participant)


def _count(name: str) -> int:
    value = (request.form.get(name) or "").strip()
    if not value:
        return 0
    count = small_count(value, 999_999)
    if count is None:
        raise KitError(_("Counts of missing and damaged parts are whole numbers, such as 1."))
    return count


@bp.post(kit_label_route("/return"))
@require_role(Role.VOLUNTEER)
def label_return(token: str):
    """Take the kit back with its checklist: a component listed on it and unticked, without
    counts, is missing altogether; counts say how many are missing or damaged. A component
    the checklist did not list (the bill of materials changed meanwhile) counts as back."""
    kit = _label_kit(token)
    listed = set(request.form.getlist("listed"))
    missing: dict[int, int] = {}
    damaged: dict[int, int] = {}
    try:
        with unit_of_work():
            for component in kit.kit_type.components:
                missing_count = _count(f"missing-{component.id}")
                damaged_count = _count(f"damaged-{component.id}")
                unticked = str(component.id) in listed and not request.form.get(
                    f"back-{component.id}"
                )
                if unticked and not missing_count and not damaged_count:
                    missing_count = component.quantity
                missing[component.id] = missing_count
                damaged[component.id] = damaged_count
            result = return_kit(
                current_actor(),
                kit,
                missing=missing,
                damaged=damaged,
                note=(request.form.get("note") or "")[:1000],
                station=_station(),
            )
    except KitNotOut as exc:
        flash(str(exc), "error")
        return _back(kit)
    except KitError as exc:
        # The checklist comes back as it was sent, so a fixed count is not sent with every
        # part ticked again.
        flash(str(exc), "error")
        return (
            render_template(
                "kits/label.html",
                kit=kit,
                partner=None,
                search="",
                matches=[],
                can_go_out=False,
                pairing=False,
                reasons=[],
                returned=request.form,
            ),
            400,
        )
    if result.incident is not None:
        flash(
            _(
                "%(code)s is back with something missing or damaged (%(what)s); "
                "status: %(status)s.",
                code=kit.code,
                what=incident_text(result.incident),
                status=result.condition.label,
            ),
            "warning",
        )
    else:
        flash(_("%(code)s is back, complete, and ready.", code=kit.code), "success")
    return _back(kit)
