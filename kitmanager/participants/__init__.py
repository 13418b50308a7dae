"""Participants: people registered for a workshop, their teams, import and export."""
