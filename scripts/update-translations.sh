#!/usr/bin/env bash
# Refresh the message catalogs after UI strings change: extract, merge into each language, compile.
# Then translate the new entries in kitmanager/translations/<lang>/LC_MESSAGES/messages.po and run
# this script again, so the committed .mo matches the .po (tests/web/test_i18n.py checks both).
# Usage: scripts/update-translations.sh [LANG ...]   (default: fr)
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
TRANSLATIONS=kitmanager/translations
LANGS=("${@:-fr}")

# Keywords and source patterns live in babel.cfg; "." so its patterns match from the top level.
"$PYBABEL" -q extract -F babel.cfg --add-location=file --sort-by-file --project=kitmanager \
  --copyright-holder="kitmanager contributors" \
  -o "$TRANSLATIONS/messages.pot" .
for lang in "${LANGS[@]}"; do
  if [ -f "$TRANSLATIONS/$lang/LC_MESSAGES/messages.po" ]; then
    # No fuzzy matching: a changed string comes back untranslated, never with a stale guess.
    "$PYBABEL" -q update -i "$TRANSLATIONS/messages.pot" -d "$TRANSLATIONS" -l "$lang" \
      --no-fuzzy-matching --ignore-obsolete
  else
    "$PYBABEL" -q init -i "$TRANSLATIONS/messages.pot" -d "$TRANSLATIONS" -l "$lang"
  fi
done
"$PYBABEL" compile -d "$TRANSLATIONS" --statistics
