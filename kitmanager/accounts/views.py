"""Organisers manage accounts and API tokens; every change goes through the auth services.

A new or reset password and a new token's secret appear once, in the reply to the POST that
made them: never in a redirect, a flash message (the session cookie) or a log.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kitmanager.accounts import bp
from kitmanager.accounts.forms import ConfirmForm, RoleForm, TokenForm, UserForm
from kitmanager.auth.services import (
    AuthError,
    create_token,
    create_user,
    generate_password,
    list_tokens,
    list_users,
    reset_password,
    revoke_token,
    set_user_active,
    set_user_role,
)
from kitmanager.extensions import db
from kitmanager.models import ApiToken, Role, User
from kitmanager.security import current_actor, require_role
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import page_unit_of_work


def _page(
    user_form: UserForm | None = None, token_form: TokenForm | None = None, status: int = 200
):
    return (
        render_template(
            "accounts/index.html",
            users=list_users(),
            tokens=list_tokens(),
            user_form=user_form or UserForm(formdata=None),
            token_form=token_form or TokenForm(formdata=None),
            role_form=RoleForm(formdata=None),
            confirm=ConfirmForm(),
        ),
        status,
    )


def _shown_once(title: str, label: str, secret: str, note: str):
    return render_template(
        "accounts/secret.html", title=title, label=label, secret=secret, note=note
    )


def _get(model: type[User] | type[ApiToken], object_id: int):
    found = db.session.get(model, object_id)
    if found is None:
        abort(404)
    return found


@bp.route("/")
@require_role(Role.ORGANISER)
def index():
    return _page()


@bp.route("/users/new", methods=["POST"])
@require_role(Role.ORGANISER)
def user_create():
    form = UserForm()
    if not form.validate_on_submit():
        return _page(user_form=form, status=400)
    password = form.password.data or generate_password()
    try:
        with unit_of_work():
            user = create_user(
                current_actor(),
                form.username.data,
                form.role.data,
                password,
                display_name=form.display_name.data or "",
            )
    except AuthError as exc:
        form.username.errors = [*form.username.errors, str(exc)]
        return _page(user_form=form, status=400)
    if form.password.data:
        flash(_("Account '%(username)s' created.", username=user.username), "success")
        return redirect(url_for("accounts.index"))
    return _shown_once(
        _("Account '%(username)s' created", username=user.username),
        _("Password"),
        password,
        _("Give it to %(name)s now: it is shown only this once.", name=user.display_name),
    )


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@require_role(Role.ORGANISER)
def user_role(user_id: int):
    user = _get(User, user_id)
    form = RoleForm()
    if form.validate_on_submit():
        with page_unit_of_work() as work:
            set_user_role(current_actor(), user, form.role.data)
        if work.committed:
            flash(_("'%(username)s' has a new role.", username=user.username), "success")
    return redirect(url_for("accounts.index"))


@bp.route("/users/<int:user_id>/disable", methods=["POST"], endpoint="user_disable")
@bp.route("/users/<int:user_id>/enable", methods=["POST"], endpoint="user_enable")
@require_role(Role.ORGANISER)
def user_active(user_id: int):
    user = _get(User, user_id)
    active = request.endpoint == "accounts.user_enable"
    if ConfirmForm().validate_on_submit():
        with page_unit_of_work() as work:
            set_user_active(current_actor(), user, active)
        if work.committed:
            message = (
                _("'%(username)s' can log in again.", username=user.username)
                if active
                else _("'%(username)s' is disabled and logged out.", username=user.username)
            )
            flash(message, "success")
    return redirect(url_for("accounts.index"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@require_role(Role.ORGANISER)
def user_password(user_id: int):
    user = _get(User, user_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("accounts.index"))
    with unit_of_work():
        password = reset_password(current_actor(), user.username)
    return _shown_once(
        _("New password for '%(username)s'", username=user.username),
        _("Password"),
        password,
        _(
            "Give it to %(name)s now: it is shown only this once. Their open sessions have ended.",
            name=user.display_name,
        ),
    )


@bp.route("/tokens/new", methods=["POST"])
@require_role(Role.ORGANISER)
def token_create():
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(token_form=form, status=400)
    try:
        with unit_of_work():
            token, secret = create_token(current_actor(), form.name.data, form.role.data)
    except AuthError as exc:
        form.name.errors = [*form.name.errors, str(exc)]
        return _page(token_form=form, status=400)
    return _shown_once(
        _("Token '%(name)s' created", name=token.name),
        _("Token"),
        secret,
        _(
            "Copy it into the script or scanner app now: it is shown only this once. It is "
            "sent as 'Authorization: Bearer <token>'."
        ),
    )


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@require_role(Role.ORGANISER)
def token_revoke(token_id: int):
    token = _get(ApiToken, token_id)
    if ConfirmForm().validate_on_submit():
        with unit_of_work():
            revoke_token(current_actor(), token.name)
        flash(_("Token '%(name)s' revoked: it no longer works.", name=token.name), "success")
    return redirect(url_for("accounts.index"))
