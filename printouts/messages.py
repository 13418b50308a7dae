"""What printouts say, in each language they speak: role bands, item names and warnings.

The package stays free of any web framework, so it keeps its own small table keyed by
language instead of a gettext catalog. A caller passes ``language="fr"`` to a ``render_*``
function; an unknown language falls back to English.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "MESSAGES",
    "hours_attended",
    "message",
    "number_text",
    "supported_language",
]

DEFAULT_LANGUAGE = "en"

# Each entry: the English text, then its translations. Placeholders use str.format.
MESSAGES: dict[str, dict[str, str]] = {
    # the hours line of a certificate, singular and plural
    "certificate.hours_one": {"en": "{hours} hour attended", "fr": "{hours} heure de présence"},
    "certificate.hours_other": {
        "en": "{hours} hours attended",
        "fr": "{hours} heures de présence",
    },
    # role bands on badges (one per ParticipantRole)
    "role.participant": {"en": "PARTICIPANT", "fr": "PARTICIPANT"},
    "role.trainer": {"en": "TRAINER", "fr": "FORMATEUR"},
    "role.mentor": {"en": "MENTOR", "fr": "MENTOR"},
    "role.guest": {"en": "GUEST", "fr": "INVITÉ"},
    # one item, and several items of a kind, as a warning names them
    "item.badge": {"en": "badge {index} ({name})", "fr": "badge {index} ({name})"},
    "item.kit-label": {
        "en": "kit label {index} ({name})",
        "fr": "étiquette de kit {index} ({name})",
    },
    "item.kit-card": {
        "en": "contents card {index} ({name})",
        "fr": "fiche de contenu {index} ({name})",
    },
    "item.certificate": {"en": "certificate {index} ({name})", "fr": "certificat {index} ({name})"},
    "items.badge": {"en": "{count} badges", "fr": "{count} badges"},
    "items.kit-label": {"en": "{count} kit labels", "fr": "{count} étiquettes de kit"},
    "items.kit-card": {"en": "{count} contents cards", "fr": "{count} fiches de contenu"},
    "items.certificate": {"en": "{count} certificates", "fr": "{count} certificats"},
    # the checklist of a kit's contents card
    "checklist.heading": {
        "en": "Contents: tick each part that is in the box",
        "fr": "Contenu : cochez chaque pièce présente dans la boîte",
    },
    "checklist.consumable": {"en": "(consumable)", "fr": "(consommable)"},
    "checklist.legend": {
        "en": "Everything must come back except what is marked consumable.",
        "fr": "Tout doit être rendu, sauf ce qui est marqué consommable.",
    },
    # warnings: what printed but needs a look, each with the fix
    "warn.missing_glyphs": {
        "en": "the font has no glyph for {chars} in {text}; they print as empty boxes, so "
        "give a Latin-script spelling (e.g. badge_name)",
        "fr": "la police n'a pas de glyphe pour {chars} dans {text} ; ils s'impriment comme "
        "des cases vides, donnez donc une orthographe en alphabet latin (p. ex. badge_name)",
    },
    "warn.missing_glyphs.kit": {
        "en": "the font has no glyph for {chars} in {text}; they print as empty boxes, so "
        "spell the kit type or component in Latin script",
        "fr": "la police n'a pas de glyphe pour {chars} dans {text} ; ils s'impriment comme "
        "des cases vides, donnez donc au type de kit ou au composant une orthographe en "
        "alphabet latin",
    },
    "warn.too_long": {
        "en": "{text} is too long for its box and prints at {size} pt, below the layout "
        "minimum of {minimum} pt; shorten it",
        "fr": "{text} est trop long pour son cadre et s'imprime en {size} pt, sous le minimum "
        "de {minimum} pt de la mise en page ; raccourcissez-le",
    },
    "warn.workshop_too_long": {
        "en": "the workshop title is too long for the badge; give the workshop a short name "
        "for badges",
        "fr": "le titre de l'atelier est trop long pour le badge ; donnez à l'atelier un nom "
        "court pour les badges",
    },
    "warn.components_left_off": {
        "en": "{count} of its components do not fit on the label and are summed up as "
        "'+ N more'; use a larger label or shorter names",
        "fr": "{count} de ses composants ne tiennent pas sur l'étiquette et sont résumés par "
        "« + N autres » ; prenez une étiquette plus grande ou des noms plus courts",
    },
    "warn.component_too_long": {
        "en": "a component name is too long for the label and prints at {size} pt, below the "
        "layout minimum of {minimum} pt; shorten it",
        "fr": "un nom de composant est trop long pour l'étiquette et s'imprime en {size} pt, "
        "sous le minimum de {minimum} pt de la mise en page ; raccourcissez-le",
    },
    "warn.checklist_left_off": {
        "en": "{count} of its components do not fit on the card even at the smallest size "
        "and in two columns, and are summed up as '+ N more'; shorten the names or split the "
        "kit type",
        "fr": "{count} de ses composants ne tiennent pas sur la fiche, même au plus petit "
        "corps et sur deux colonnes, et sont résumés par « + N autres » ; raccourcissez les "
        "noms ou scindez le type de kit",
    },
    "warn.card_component_too_long": {
        "en": "a component name is too long for the card and prints below the layout "
        "minimum of {minimum} pt; shorten it",
        "fr": "un nom de composant est trop long pour la fiche et s'imprime sous le minimum "
        "de {minimum} pt de la mise en page ; raccourcissez-le",
    },
    "warn.controls_removed": {
        "en": "invisible direction or control characters in {text} are left out; the name "
        "prints without them, retype it if it looks wrong",
        "fr": "des caractères invisibles de direction ou de contrôle dans {text} sont omis ; "
        "le nom s'imprime sans eux, ressaisissez-le s'il paraît faux",
    },
    "warn.not_printable": {
        "en": "its {field} could not be printed as written ({problem}), so it is left off; "
        "check how it is spelled",
        "fr": "son champ {field} n'a pas pu être imprimé tel quel ({problem}), il est donc "
        "laissé vide ; vérifiez son orthographe",
    },
    "warn.image_no_place": {
        "en": "layout {layout} has no place for a {image} image on a {kind}, so it is left "
        "out; choose a layout that shows one",
        "fr": "la mise en page {layout} n'a pas de place pour une image {image} sur ce type "
        "d'impression ({kind}), elle est donc omise ; choisissez une mise en page qui en "
        "affiche une",
    },
    "more": {"en": "+ {count} more", "fr": "+ {count} autres"},
    # between the item(s) a warning concerns and the warning (French sets a space before ":")
    "separator": {"en": ": ", "fr": " : "},
}

LANGUAGES: tuple[str, ...] = tuple(MESSAGES["role.participant"])


def supported_language(language: str | None) -> str:
    """``language`` if printouts speak it, else English."""
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def number_text(value: float, language: str = DEFAULT_LANGUAGE) -> str:
    """``value`` as ``language`` writes it: 1.5 in English, 1,5 in French; no trailing zeros."""
    text = f"{value:g}"
    return text.replace(".", ",") if supported_language(language) == "fr" else text


def hours_attended(hours: float, language: str = DEFAULT_LANGUAGE) -> str:
    """The certificate's hours line, singular or plural by the language's rule (English: 1
    hour, 1.5 hours; French: 1,5 heure, 2 heures)."""
    language = supported_language(language)
    singular = hours < 2 if language == "fr" else hours == 1
    key = "certificate.hours_one" if singular else "certificate.hours_other"
    return message(key, language, hours=number_text(hours, language))


def message(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The text of ``key`` in ``language`` (English when that language lacks it)."""
    texts = MESSAGES[key]
    text = texts.get(supported_language(language)) or texts[DEFAULT_LANGUAGE]
    return text.format(**params)
