"""kitmanager package."""
