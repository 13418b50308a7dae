"""Check-in: scans of badges and attendance per session."""
