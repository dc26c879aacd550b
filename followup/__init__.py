"""The application shell: settings (followup.config) and the command line (followup.cli)."""
