"""Worker scripts run under the optional TTS venvs' interpreters (see tts/worker.py); a package only so
that they ship with the project. They import nothing from it."""
