"""The exception tree shared by every maascheck layer, and the exit codes of every command (README)."""

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class MaascheckError(Exception):
    """Base class of every error maascheck raises on purpose."""


class ConfigError(MaascheckError):
    """Bad usage or configuration: the message says what is wrong, what is valid, and an example.

    The CLI turns it into exit code 2.
    """
